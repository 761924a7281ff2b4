"""The supervisor's control endpoint (loopback HTTP): stop, kill and start nodes it owns.

`devnet sequencer stop|kill|start NAME` talks to it, so a node restarted from the command line
is still owned, logged and stopped by the supervisor.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from devnet.network import Devnet
from devnet.supervisor import ProcessFailed

ACTIONS = ("stop", "kill", "start")


def serve_control(network: Devnet, host: str = "127.0.0.1") -> tuple[HTTPServer, str]:
    """Start the control server in one daemon thread; returns it and its URL.

    Requests are served on that one long-lived thread, never a thread per request: Linux delivers a
    child's PR_SET_PDEATHSIG when the *thread* that forked it exits, so a node started from a
    short-lived request thread would be SIGTERMed as soon as the request was answered.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "nodes" or parts[2] not in ACTIONS:
                return self._reply(404, {"error": f"unknown path {self.path}; use /nodes/NAME/{'|'.join(ACTIONS)}"})
            name, action = parts[1], parts[2]
            if name not in network.node_configs:
                return self._reply(404, {"error": f"no node {name}; nodes: {', '.join(network.node_configs)}"})
            process = network.processes.get(name)
            try:
                if action == "stop" and process is not None:
                    process.stop()
                elif action == "kill" and process is not None:
                    process.kill()
                elif action == "start":
                    if process is not None and process.alive():
                        return self._reply(409, {"error": f"{name} is already running"})
                    network.start_node(name)
                    network.wait_node_ready(name)
            except ProcessFailed as exc:
                return self._reply(500, {"error": str(exc)})
            self._reply(200, {"name": name, "action": action, "pid": network.processes[name].pid,
                              "alive": network.processes[name].alive()})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the supervisor's log quiet
            return

    server = HTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"
