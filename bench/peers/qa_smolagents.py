#!/usr/bin/env python3
"""The smolagents peer of bench/qa_bench.py: a ToolCallingAgent with smallagent's tools.

Runs in the venv setup_qa_peer.sh builds. The model is reached through Ollama's
OpenAI-compatible API (OpenAIServerModel), as smolagents users do; num_ctx comes from the
benchmark's model alias, temperature 0 and seed 0 from here. smolagents' own prompts, its
final_answer tool and its step budget (max_steps action steps, then one request for the answer).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qa_peer_common import ToolClient, arguments, run_all


def remote_tools(client: ToolClient) -> list[Any]:
    from smolagents import Tool

    tools = []
    for spec in client.specs():
        properties = spec["parameters"].get("properties", {})
        required = set(spec["parameters"].get("required", []))
        inputs = {
            name: {"type": schema["type"], "description": schema["description"]}
            | ({} if name in required else {"nullable": True})
            for name, schema in properties.items()
        }

        def forward(self: Any, **kwargs: Any) -> str:
            given = {key: value for key, value in kwargs.items() if value is not None}
            text, ok = client.call(self.name, given)
            if not ok:
                raise RuntimeError(text)  # smolagents shows a tool error to the model
            return text

        cls = type(
            f"Remote_{spec['name']}",
            (Tool,),
            {
                "name": spec["name"],
                "description": spec["description"],
                "inputs": inputs,
                "output_type": "string",
                "skip_forward_signature_validation": True,
                "forward": forward,
            },
        )
        tools.append(cls())
    return tools


def main() -> int:
    args = arguments()
    from smolagents import ActionStep, OpenAIServerModel, ToolCallingAgent
    from smolagents.monitoring import LogLevel

    logging.disable(logging.WARNING)
    model = OpenAIServerModel(
        model_id=args.model,
        api_base=args.ollama.rstrip("/") + "/v1",
        api_key="ollama",
        client_kwargs={"timeout": 1800, "max_retries": 0},
        temperature=0,
        seed=0,
    )
    tools = remote_tools(ToolClient(args.tools))

    def answer(prompt: str, max_steps: int) -> tuple[str, str, int]:
        agent = ToolCallingAgent(
            tools=tools, model=model, max_steps=max_steps, verbosity_level=LogLevel.OFF
        )
        result = agent.run(prompt, return_full_result=True)
        steps = sum(isinstance(step, ActionStep) for step in agent.memory.steps)
        stop = "answer" if result.state == "success" else "max_steps"
        output = result.output
        return ("" if output is None else str(output)), stop, steps

    return run_all(args, answer)


if __name__ == "__main__":
    sys.exit(main())
