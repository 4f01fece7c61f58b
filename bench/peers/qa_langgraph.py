#!/usr/bin/env python3
"""The LangGraph peer of bench/qa_bench.py: the prebuilt ReAct agent (create_react_agent) on
langchain-ollama's ChatOllama, with smallagent's tools.

Runs in the venv setup_qa_peer.sh builds. ChatOllama talks Ollama's native API (streamed);
num_ctx comes from the benchmark's model alias, temperature 0 and seed 0 from here. No system
prompt: the prebuilt agent's default. The step budget: recursion_limit = 2 x max_steps, so at most
max_steps model calls (the prebuilt agent answers "need more steps" when it runs out).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qa_peer_common import ToolClient, arguments, run_all


def remote_tools(client: ToolClient) -> list[Any]:
    from langchain_core.tools import StructuredTool, ToolException

    tools = []
    for spec in client.specs():
        name = spec["name"]

        def call(_name: str = name, **kwargs: Any) -> str:
            text, ok = client.call(_name, kwargs)
            if not ok:
                raise ToolException(text)
            return text

        tools.append(
            StructuredTool.from_function(
                func=call,
                name=name,
                description=spec["description"],
                args_schema=spec["parameters"],
                handle_tool_error=True,
            )
        )
    return tools


def main() -> int:
    args = arguments()
    warnings.filterwarnings("ignore")
    from langchain_core.messages import AIMessage
    from langchain_ollama import ChatOllama
    from langgraph.errors import GraphRecursionError
    from langgraph.prebuilt import create_react_agent

    model = ChatOllama(
        model=args.model,
        base_url=args.ollama,
        temperature=0,
        seed=0,
        client_kwargs={"timeout": 1800},
    )
    agent = create_react_agent(model, remote_tools(ToolClient(args.tools)))

    def answer(prompt: str, max_steps: int) -> tuple[str, str, int]:
        last: dict[str, Any] = {"messages": []}
        try:
            for state in agent.stream(
                {"messages": [("user", prompt)]},
                config={"recursion_limit": 2 * max_steps},
                stream_mode="values",
            ):
                last = state
            stop = "answer"
        except GraphRecursionError:
            stop = "max_steps"
        replies = [m for m in last["messages"] if isinstance(m, AIMessage)]
        final = replies[-1] if replies else None
        if final is None or final.tool_calls:
            stop = "max_steps"
        text = final.content if final is not None and isinstance(final.content, str) else ""
        if text == "Sorry, need more steps to process this request.":
            stop = "max_steps"
        return text, stop, len(replies)

    return run_all(args, answer)


if __name__ == "__main__":
    sys.exit(main())
