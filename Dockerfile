# The image of the GitHub Action (action.yml builds it) and of GitLab CI jobs.
#
# Only python3, apt-get and a venv are used, so any Debian-based Python image works as the
# base: `docker build --build-arg BASE_IMAGE=...` for a mirror or an offline copy.
ARG BASE_IMAGE=python:3.12-slim-bookworm

# --- build: a venv with the pinned dependencies and the package, then without pip -------
FROM ${BASE_IMAGE} AS build
# Package index settings for builds behind a mirror; they stay in this stage only.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Dependencies first: this layer is reused until requirements.txt changes.
COPY requirements.txt ./
RUN python3 -m venv /opt/jdcdn \
    && /opt/jdcdn/bin/python -m pip install --quiet --require-hashes --no-deps \
        -r requirements.txt
COPY pyproject.toml README.md entrypoint.py ./
COPY jdcdn_action ./jdcdn_action
# The venv keeps no installer (pip, setuptools): nothing is installed at run time. Byte
# code is compiled with unchecked hashes so it stays valid whatever the files' times.
RUN /opt/jdcdn/bin/python -m pip install --quiet --no-deps --no-compile . \
    && cp entrypoint.py /opt/jdcdn/entrypoint.py \
    && /opt/jdcdn/bin/python -m pip uninstall --quiet --yes pip setuptools \
    && /opt/jdcdn/bin/python -m compileall -q -f --invalidation-mode unchecked-hash \
        /opt/jdcdn

# --- the image ----------------------------------------------------------------------------
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="jdcdn-action" \
      org.opencontainers.image.description="Refresh JD Cloud CDN caches after a deploy" \
      org.opencontainers.image.licenses="MIT"
# git for `git-diff`. Versions are not pinned: they follow the base's Debian release, and
# a pinned version would break as soon as Debian publishes a security update.
# Manuals, docs and translations of the new packages are left out (about 20 MB).
# hadolint ignore=DL3008
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
        'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/locale/*' \
        > /etc/dpkg/dpkg.cfg.d/jdcdn-nodoc \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /opt/jdcdn /opt/jdcdn
# No USER: GitHub runs container actions as root, or they cannot write the file commands.
ENV PATH=/opt/jdcdn/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# -I: neither the working directory (the user's checkout) nor PYTHON* variables nor a user
# site under $HOME can change which code runs (so -B and -u repeat the two variables above).
ENTRYPOINT ["/opt/jdcdn/bin/python", "-I", "-B", "-u", "/opt/jdcdn/entrypoint.py"]
