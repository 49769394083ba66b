from jdcdn_action.batches import plan_batches
from jdcdn_action.urls import UrlPlan


def urls(n, prefix="https://www.example.com/f"):
    return tuple(f"{prefix}{i:04d}" for i in range(n))


def test_batch_sizes_files_then_dirs():
    plan = UrlPlan(files=urls(250), dirs=tuple(f"https://www.example.com/d{i}/" for i in range(7)))
    batches = plan_batches(plan)
    assert [(b.index, b.type, len(b.instances)) for b in batches] == [
        (1, "file", 100), (2, "file", 100), (3, "file", 50), (4, "dir", 5), (5, "dir", 2)]
    assert [u for b in batches if b.type == "file" for u in b.instances] == list(plan.files)


def test_exact_multiple_and_empty():
    assert [len(b.instances) for b in plan_batches(UrlPlan(urls(100), ()))] == [100]
    assert plan_batches(UrlPlan((), ())) == []
