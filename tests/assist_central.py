"""A scripted stand-in for central's assist desk, for the booth's UI tests and screenshots: a raw paho
client on the test broker that answers each assist request with the answers its script gives, each one
only once a file exists (the screenshot or marker the scenario makes after looking at the state before),
so every state is on screen, deterministically, for as long as the scenario needs it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from appliance.contract import QOS_ASSIST_ANSWERS, AssistMode, AssistState, assist_answer, assist_answer_topic
from tests.support import Collector, Mosquitto

Step = tuple[Path | None, AssistState, AssistMode, dict[str, Any]]  # (answer once this exists, state, mode, fields)


class ScriptedDesk(Collector):
    """`scripts[n]` answers the n-th assist request (by arrival); requests beyond the scripts stay unanswered."""

    def __init__(self, broker: Mosquitto, scripts: list[list[Step]], client_id: str = "test-assist-desk") -> None:
        self._scripts = scripts
        self._closing = threading.Event()
        self._started: set[str] = set()
        super().__init__(broker, topic="kiosk/v1/+/events/assist", client_id=client_id)

    def _on_message(self, client, userdata, message) -> None:
        super()._on_message(client, userdata, message)
        event = json.loads(message.payload)
        if event["id"] in self._started or len(self._started) >= len(self._scripts):
            return  # a resend of a request already in hand, or one the test leaves unanswered
        script = self._scripts[len(self._started)]
        self._started.add(event["id"])
        threading.Thread(target=self._play, args=(event["device"], event["id"], script), daemon=True).start()

    def _play(self, device: str, request: str, script: list[Step]) -> None:
        for after, state, mode, fields in script:
            while after is not None and not after.exists():
                if self._closing.wait(0.1):
                    return
            time.sleep(0.2)  # the screenshot file is complete, not just created
            body = json.dumps(assist_answer(request, state, mode, **fields), ensure_ascii=False)
            self.client.publish(assist_answer_topic(device), body.encode(), qos=QOS_ASSIST_ANSWERS)

    def close(self) -> None:
        self._closing.set()
        super().close()
