#!/usr/bin/env bash
# Builds one question-benchmark peer's own virtual environment (bench/qa_bench.py), apart from
# smallagent's, so neither side's dependencies bend the other's:
#   setup_qa_peer.sh smolagents   -> smolagents' ToolCallingAgent, talking OpenAI-compatible HTTP
#   setup_qa_peer.sh langgraph    -> LangGraph's prebuilt ReAct agent on langchain-ollama
# The peers need no retriever or shell of their own: their tools call smallagent's, served on
# loopback by the harness (bench/qa/toolserver.py), so the venvs hold only the agent frameworks.
# Idempotent: a stamp holding the pins marks a finished install; changing the pins rebuilds.
# The last line on stdout is the venv's python; pip's chatter goes to stderr.
set -euo pipefail

NAME="${1:-}"
case "$NAME" in
    smolagents)
        PINS=(smolagents==1.26.0 openai==3.57.0)
        CHECK="import smolagents, openai; from smolagents import ToolCallingAgent, OpenAIServerModel"
        ;;
    langgraph)
        PINS=(langgraph==1.2.22 langgraph-prebuilt==1.1.3 langchain-core==1.8.3 langchain-ollama==1.1.0 ollama==0.6.3)
        CHECK="from langgraph.prebuilt import create_react_agent; from langchain_ollama import ChatOllama"
        ;;
    *)
        echo "usage: $0 smolagents|langgraph" >&2
        exit 2
        ;;
esac

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/smallagent/bench/venvs/$NAME"
STAMP="$VENV/.installed"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "${PINS[*]}" ]]; then
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check "${PINS[@]}" >&2
    "$VENV/bin/python" -c "$CHECK" >&2
    "$VENV/bin/pip" freeze --disable-pip-version-check >"$VENV/.freeze"
    echo "${PINS[*]}" >"$STAMP"
fi

echo "$VENV/bin/python"
