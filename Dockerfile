# syntax=docker/dockerfile:1
# The operator image: `kubedirector run` as a non-root user on a slim Python.
#   docker build -t ghcr.io/kubedirector/kubedirector:0.1.0 .
# PYTHON_IMAGE may name any base with python, venv and pip (the local test node
# builds this file on a Debian base made with debootstrap: hack/build-image.sh).
# Build stage: install the package and its dependencies (all published as wheels,
# so no compiler is needed) into a virtual environment without pip, then
# byte-compile it (hash-checked .pyc files stay valid whatever COPY does to file
# times), so a start on the read-only root filesystem compiles nothing.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kubedirector ./kubedirector
RUN python -m venv --without-pip /opt/kubedirector \
 && python -m pip --python /opt/kubedirector/bin/python install --no-compile . \
 && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/kubedirector

# Final stage: the interpreter, the environment, an unprivileged user; nothing else.
# The interpreter's own standard library is byte-compiled too (some bases ship it
# without .pyc files); -x skips test data that is not Python 3 on purpose.
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kubedirector" \
      org.opencontainers.image.description="Run stateful, clustered apps on Kubernetes from an app catalog (KubeDirector v1beta1 API)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN python -m compileall -q -j 0 -x '/(test|tests|lib2to3)/' \
      "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
 && groupadd --gid 65532 kubedirector \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kubedirector
COPY --from=build /opt/kubedirector /opt/kubedirector
ENV PATH=/opt/kubedirector/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# 8080: /healthz, /readyz (and /metrics without --secure-metrics-address); 8443: /metrics
# over HTTPS for authorized scrapers (the manifests' --secure-metrics-address); 9443: the
# admission webhook (HTTPS).
EXPOSE 8080 8443 9443
ENTRYPOINT ["kubedirector"]
CMD ["run"]
