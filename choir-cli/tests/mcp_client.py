"""A real MCP client (the `mcp` package from PyPI) against a stdio server given on the
command line: `python mcp_client.py COMMAND ARG...`. It initializes, lists the tools, makes
the calls read as JSON lines from stdin ({"tool": ..., "args": ...}), and prints one JSON
document with what it saw. Used by tests/mcp.rs."""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def main() -> None:
    calls = [json.loads(line) for line in sys.stdin if line.strip()]
    params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:])
    report = {"calls": []}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            report["initialize"] = dump(await session.initialize())
            report["tools"] = [dump(tool) for tool in (await session.list_tools()).tools]
            for call in calls:
                try:
                    result = await session.call_tool(call["tool"], call.get("args", {}))
                    report["calls"].append({"result": dump(result)})
                except Exception as err:  # a protocol error: the server refused the request
                    report["calls"].append({"error": str(err)})
    print(json.dumps(report))


asyncio.run(main())
