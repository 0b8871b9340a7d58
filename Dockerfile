# spert serve on CPU. The model directory is mounted at run time, not baked in:
#   docker build -t spert-serve .
#   docker run --rm -p 8000:8000 -v "$PWD/runs/conll04/model:/model:ro" spert-serve
#   docker run --rm -p 8000:8000 -v "$PWD/runs/conll04/model:/model:ro" -e SPERT_API_KEY=secret spert-serve
# Extra flags go after the image name: ... spert-serve --workers 2 --max-chars 20000
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

WORKDIR /opt/spert
# the CPU build of PyTorch first: the default index would pull a multi-GB CUDA build
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[serve]" && useradd --system --uid 10001 spert

USER spert
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
ENTRYPOINT ["spert", "serve", "--model", "/model", "--host", "0.0.0.0", "--port", "8000"]
