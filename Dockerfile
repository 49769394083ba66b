# The image of the GitHub Action (action.yml builds it) and of GitLab CI jobs.
#
# Only python3, a venv, apt-get, bash and ldd are used, so any Debian-based Python image works
# as the base: `docker build --build-arg BASE_IMAGE=...` for a mirror or an offline copy.
# The image adds two layers to the base: git's few programs (with only the libraries the
# base lacks) and the venv, under 20 MB in all (tests/test_container.py checks the budget).
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

# --- git: Debian's package, of which the image keeps only what git-diff runs -----------
# git-diff runs rev-parse, cat-file, merge-base, rev-list, hash-object, symbolic-ref,
# diff-tree and fetch/ls-remote (jdcdn_action/git.py); all are builtins of the one
# `git` binary. Fetching also runs, by name from git's exec-path, git-remote-http(s) for
# https origins and git-upload-pack for local and file:// origins. Perl, the manuals and
# the other 160-odd programs of git-core (91 MB in all) stay in this stage.
FROM ${BASE_IMAGE} AS git
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions are not pinned: they follow the base's Debian release, and a pinned version
# would break as soon as Debian publishes a security update. Each build takes the current one.
# Manuals, docs and translations are not unpacked: less to write, a faster cold build.
# hadolint ignore=DL3008
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-exclude=/usr/share/man/*' \
        'path-exclude=/usr/share/locale/*' > /etc/dpkg/dpkg.cfg.d/jdcdn-nodoc \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# /out/files: the programs at their paths, and the templates (a few kB) so that `git init`
# in a job does not warn. upload-pack and remote-https are the same programs under other
# names (hard links in the package; symbolic links survive COPY).
# /out/libs.txt: "soname path package" for every library they load here, and /out/libs
# those files; /out/status: each package's dpkg record, for scanners of the final image.
RUN mkdir -p /out/files/usr/bin /out/files/usr/lib/git-core /out/libs /out/status \
    && cp -a /usr/bin/git /out/files/usr/bin/git \
    && cp -a /usr/lib/git-core/git-remote-http /out/files/usr/lib/git-core/ \
    && ln -s git-remote-http /out/files/usr/lib/git-core/git-remote-https \
    && ln -s ../../bin/git /out/files/usr/lib/git-core/git-upload-pack \
    && ln -s ../../bin/git /out/files/usr/lib/git-core/git \
    && mkdir -p /out/files/usr/share/git-core \
    && cp -a /usr/share/git-core/templates /out/files/usr/share/git-core/ \
    && ldd /usr/bin/git /usr/lib/git-core/git-remote-http \
        | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u \
        | while read -r soname path; do \
            dir=$(realpath "$(dirname "$path")"); \
            package=$(dpkg -S "*/$(basename "$(realpath "$path")")" | head -n 1 | cut -d: -f1); \
            install -D -m 644 "$path" "/out/libs$dir/$soname"; \
            echo "$soname $dir/$soname $package" >> /out/libs.txt; \
            dpkg-query -s "$package" > "/out/status/$package"; \
          done \
    && dpkg-query -s git > /out/status/git \
    && dpkg-query -s ca-certificates > /out/status/ca-certificates \
    && cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

# --- git on the final base: the programs plus only the libraries that base lacks ---------
# Runs FROM the same base as the image, so `ldd` sees the libraries the image will have:
# the default base and a local Debian one differ, and a fixed list would fit only one.
# /picked becomes the image's one git layer.
FROM ${BASE_IMAGE} AS git-runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=git /out /staging
RUN mkdir -p /picked/var/lib/dpkg/status.d \
    && cp -a /staging/files/. /picked/ \
    && cp -a /staging/files/. / \
    && cp /staging/status/git /picked/var/lib/dpkg/status.d/git \
    && programs=(/usr/bin/git /usr/lib/git-core/git-remote-http) \
    && while missing=$({ ldd "${programs[@]}" || true; } \
                       | awk '$2 == "=>" && $3 == "not" { print $1 }' | sort -u) \
             && [ -n "$missing" ]; do \
        for soname in $missing; do \
            read -r _ path package < <(grep "^$soname " /staging/libs.txt) \
                || { echo "$soname: not loaded by git in the git stage" >&2; exit 1; }; \
            install -D -m 644 "/staging/libs$path" "/picked$path"; \
            install -D -m 644 "/staging/libs$path" "$path"; \
            cp "/staging/status/$package" "/picked/var/lib/dpkg/status.d/$package"; \
        done; \
      done \
    && if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
        install -D -m 644 /staging/ca-certificates.crt \
            /picked/etc/ssl/certs/ca-certificates.crt; \
        cp /staging/status/ca-certificates /picked/var/lib/dpkg/status.d/ca-certificates; \
      fi \
    && ! ldd -r "${programs[@]}" 2>&1 | grep -E 'not found|undefined symbol' \
    && git --version \
    && { git remote-https 2>&1 || true; } | grep -q 'remote-curl' \
    && { /usr/lib/git-core/git-upload-pack 2>&1 || true; } | grep -q 'usage: git[ -]upload-pack'

# --- the image ----------------------------------------------------------------------------
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="jdcdn-action" \
      org.opencontainers.image.description="Refresh JD Cloud CDN caches after a deploy" \
      org.opencontainers.image.licenses="MIT"
# git for `git-diff`: the programs and the libraries this base lacks (see above).
COPY --from=git-runtime /picked/ /
COPY --from=build /opt/jdcdn /opt/jdcdn
# No USER: GitHub runs container actions as root, or they cannot write the file commands.
ENV PATH=/opt/jdcdn/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# -I: neither the working directory (the user's checkout) nor PYTHON* variables nor a user
# site under $HOME can change which code runs (so -B and -u repeat the two variables above).
ENTRYPOINT ["/opt/jdcdn/bin/python", "-I", "-B", "-u", "/opt/jdcdn/entrypoint.py"]
