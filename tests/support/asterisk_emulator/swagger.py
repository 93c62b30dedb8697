"""Our own compact Swagger 1.1 declarations of the ARI operations the engine uses.

asyncari 0.20.6 (asyncswagger11) loads ``/ari/api-docs/resources.json`` and every declaration
listed there, validates the required fields and builds callables by nickname, so nicknames,
paths, parameter names and paramTypes follow ARI 10.0.0 (Asterisk 22, FACT 1). ``basePath`` is
built from the request's Host header, as Asterisk does.
"""
from __future__ import annotations

API_VERSION = "10.0.0"


def _q(name, dtype="string", required=False, multiple=False, ptype="query"):
    return {"name": name, "description": name, "paramType": ptype, "required": required,
            "allowMultiple": multiple, "dataType": dtype}


def _path(name):
    return _q(name, required=True, ptype="path")


def _body(name):
    return _q(name, dtype="containers", ptype="body")


def _op(method, nickname, response, params, **extra):
    op = {"httpMethod": method, "summary": nickname, "nickname": nickname,
          "responseClass": response, "parameters": params}
    op.update(extra)
    return op


CH, BR, PB = _path("channelId"), _path("bridgeId"), _path("playbackId")
_ORIGINATE = [_q("endpoint", required=True), _q("extension"), _q("context"), _q("priority", "long"),
              _q("label"), _q("app"), _q("appArgs"), _q("callerId"), _q("timeout", "int"),
              _body("variables"), _q("channelId"), _q("otherChannelId"), _q("originator"),
              _q("formats")]
_PLAY = [_q("media", required=True, multiple=True), _q("lang"), _q("offsetms", "int"),
         _q("skipms", "int"), _q("playbackId")]

APIS = {
    "channels": ("Channel resources", [
        ("/channels", [_op("GET", "list", "List[Channel]", []),
                       _op("POST", "originate", "Channel", _ORIGINATE)]),
        ("/channels/externalMedia", [_op("POST", "externalMedia", "Channel", [
            _q("channelId"), _q("app", required=True), _body("variables"), _q("external_host"),
            _q("encapsulation"), _q("transport"), _q("connection_type"),
            _q("format", required=True), _q("direction"), _q("data")])]),
        ("/channels/{channelId}", [
            _op("GET", "get", "Channel", [CH]),
            _op("POST", "originateWithId", "Channel",
                [CH] + [p for p in _ORIGINATE if p["name"] != "channelId"]),
            _op("DELETE", "hangup", "void", [CH, _q("reason_code"), _q("reason")])]),
        ("/channels/{channelId}/continue", [_op("POST", "continueInDialplan", "void", [
            CH, _q("context"), _q("extension"), _q("priority", "int"), _q("label")])]),
        ("/channels/{channelId}/redirect", [_op("POST", "redirect", "void", [CH, _q("endpoint", required=True)])]),
        ("/channels/{channelId}/answer", [_op("POST", "answer", "void", [CH])]),
        ("/channels/{channelId}/silence", [_op("POST", "startSilence", "void", [CH]),
                                           _op("DELETE", "stopSilence", "void", [CH])]),
        ("/channels/{channelId}/play", [_op("POST", "play", "Playback", [CH] + _PLAY)]),
        ("/channels/{channelId}/variable", [
            _op("GET", "getChannelVar", "Variable", [CH, _q("variable", required=True)]),
            _op("POST", "setChannelVar", "void", [CH, _q("variable", required=True),
                                                  _q("value")])]),
        ("/channels/{channelId}/snoop", [_op("POST", "snoopChannel", "Channel", [
            CH, _q("spy"), _q("whisper"), _q("app", required=True), _q("appArgs"),
            _q("snoopId")])]),
    ]),
    "bridges": ("Bridge resources", [
        ("/bridges", [_op("GET", "list", "List[Bridge]", []),
                      _op("POST", "create", "Bridge", [_q("type"), _q("bridgeId"),
                                                        _q("name")])]),
        ("/bridges/{bridgeId}", [_op("GET", "get", "Bridge", [BR]),
                                 _op("DELETE", "destroy", "void", [BR])]),
        ("/bridges/{bridgeId}/addChannel", [_op("POST", "addChannel", "void", [
            BR, _q("channel", required=True, multiple=True), _q("role"),
            _q("absorbDTMF", "boolean"), _q("mute", "boolean"),
            _q("inhibitConnectedLineUpdates", "boolean")])]),
        ("/bridges/{bridgeId}/removeChannel", [_op("POST", "removeChannel", "void", [
            BR, _q("channel", required=True, multiple=True)])]),
        ("/bridges/{bridgeId}/play", [_op("POST", "play", "Playback", [BR] + _PLAY)]),
        ("/bridges/{bridgeId}/record", [_op("POST", "record", "LiveRecording", [
            BR, _q("name", required=True), _q("format", required=True),
            _q("maxDurationSeconds", "int"), _q("maxSilenceSeconds", "int"), _q("ifExists"),
            _q("beep", "boolean"), _q("terminateOn")])]),
    ]),
    "recordings": ("Recording resources", [
        ("/recordings/stored", [_op("GET", "listStored", "List[StoredRecording]", [])]),
        ("/recordings/stored/{recordingName}", [
            _op("GET", "getStored", "StoredRecording", [_path("recordingName")]),
            _op("DELETE", "deleteStored", "void", [_path("recordingName")])]),
        ("/recordings/live/{recordingName}", [
            _op("GET", "getLive", "LiveRecording", [_path("recordingName")])]),
    ]),
    "playbacks": ("Playback control resources", [
        ("/playbacks/{playbackId}", [_op("GET", "get", "Playback", [PB]),
                                     _op("DELETE", "stop", "void", [PB])]),
    ]),
    "applications": ("Stasis application resources", [
        ("/applications", [_op("GET", "list", "List[Application]", [])]),
        ("/applications/{applicationName}", [_op("GET", "get", "Application",
                                                 [_path("applicationName")])]),
    ]),
    "asterisk": ("Asterisk resources", [
        ("/asterisk/info", [_op("GET", "getInfo", "AsteriskInfo",
                                [_q("only", multiple=True)])]),
    ]),
    "events": ("WebSocket resource", [
        ("/events", [_op("GET", "eventWebsocket", "Message",
                         [_q("app", required=True, multiple=True),
                          _q("subscribeAll", "boolean")], upgrade="websocket",
                         websocketProtocol="ari")]),
    ]),
}


def _model(mid, **props):
    return {"id": mid, "description": mid,
            "properties": {k: {"type": v, "required": False} for k, v in props.items()}}


_BASE = dict(type="string", application="string", timestamp="Date", asterisk_id="string")
_EVENTS = {
    "StasisStart": dict(args="List[string]", channel="Channel", replace_channel="Channel"),
    "StasisEnd": dict(channel="Channel"),
    "ChannelCreated": dict(channel="Channel"),
    "ChannelDestroyed": dict(cause="int", cause_txt="string", channel="Channel"),
    "ChannelStateChange": dict(channel="Channel"),
    "ChannelDialplan": dict(channel="Channel", dialplan_app="string",
                            dialplan_app_data="string"),
    "ChannelVarset": dict(variable="string", value="string", channel="Channel"),
    "ChannelHangupRequest": dict(cause="int", soft="boolean", channel="Channel"),
    "ChannelDtmfReceived": dict(digit="string", duration_ms="int", channel="Channel"),
    "ChannelCallerId": dict(caller_presentation="int", caller_presentation_txt="string",
                            channel="Channel"),
    "ChannelConnectedLine": dict(channel="Channel"),
    "ChannelEnteredBridge": dict(bridge="Bridge", channel="Channel"),
    "ChannelLeftBridge": dict(bridge="Bridge", channel="Channel"),
    "BridgeCreated": dict(bridge="Bridge"),
    "BridgeDestroyed": dict(bridge="Bridge"),
    "Dial": dict(caller="Channel", peer="Channel", forwarded="Channel", forward="string",
                 dialstring="string", dialstatus="string"),
    "PlaybackStarted": dict(playback="Playback"),
    "PlaybackFinished": dict(playback="Playback"),
    "RecordingStarted": dict(recording="LiveRecording"),
    "RecordingFinished": dict(recording="LiveRecording"),
    "ApplicationReplaced": dict(),
    "DeviceStateChanged": dict(device_state="DeviceState"),
}
_MODELS = {
    "Channel": _model("Channel", id="string", name="string", state="string",
                      protocol_id="string", caller="CallerID", connected="CallerID",
                      accountcode="string", dialplan="DialplanCEP", creationtime="Date",
                      language="string", channelvars="object"),
    "CallerID": _model("CallerID", name="string", number="string"),
    "DialplanCEP": _model("DialplanCEP", context="string", exten="string", priority="long",
                          app_name="string", app_data="string"),
    "Variable": _model("Variable", value="string"),
    "Bridge": _model("Bridge", id="string", technology="string", bridge_type="string",
                     bridge_class="string", creator="string", name="string",
                     channels="List[string]", creationtime="Date", video_mode="string"),
    "Playback": _model("Playback", id="string", media_uri="string", target_uri="string",
                       language="string", state="string"),
    "LiveRecording": _model("LiveRecording", name="string", format="string", state="string",
                            target_uri="string", duration="int"),
    "StoredRecording": _model("StoredRecording", name="string", format="string"),
    "Application": _model("Application", name="string", channel_ids="List[string]",
                          bridge_ids="List[string]", endpoint_ids="List[string]",
                          device_names="List[string]", events_allowed="List[object]",
                          events_disallowed="List[object]"),
    "AsteriskInfo": _model("AsteriskInfo", build="BuildInfo", system="SystemInfo",
                           config="ConfigInfo", status="StatusInfo"),
}
_RESOURCE_MODELS = {
    "channels": ["Channel", "CallerID", "DialplanCEP", "Variable"],
    "bridges": ["Bridge", "LiveRecording"],
    "recordings": ["LiveRecording", "StoredRecording"],
    "playbacks": ["Playback"],
    "applications": ["Application"],
    "asterisk": ["AsteriskInfo", "Variable"],
}


def base_path(host_header: str) -> str:
    return f"http://{host_header or '127.0.0.1'}/ari"


def resources_listing(host_header: str) -> dict:
    return {
        "_copyright": "asterisk_emulator: a test double, not Asterisk's own declarations",
        "apiVersion": API_VERSION,
        "swaggerVersion": "1.1",
        "basePath": base_path(host_header),
        "apis": [{"path": f"/api-docs/{name}.{{format}}", "description": desc}
                 for name, (desc, _) in APIS.items()],
    }


def api_declaration(name: str, host_header: str) -> dict | None:
    if name not in APIS:
        return None
    desc, apis = APIS[name]
    if name == "events":
        models = {"Message": _model("Message", **_BASE), "Event": _model("Event", **_BASE)}
        for ev, props in _EVENTS.items():
            models[ev] = _model(ev, **_BASE, **props)
        models.update({k: _MODELS[k] for k in ("Channel", "CallerID", "DialplanCEP", "Bridge",
                                               "Playback", "LiveRecording")})
    else:
        models = {k: _MODELS[k] for k in _RESOURCE_MODELS[name]}
    return {
        "apiVersion": API_VERSION,
        "swaggerVersion": "1.1",
        "basePath": base_path(host_header),
        "resourcePath": f"/api-docs/{name}.{{format}}",
        "apis": [{"path": path, "description": desc, "operations": ops} for path, ops in apis],
        "models": models,
    }
