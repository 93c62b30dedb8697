"""The tool interface: whatever a tool or the model does wrong, the model gets an answer and the
call goes on (tools/base.py)."""

import json

import anyio
import pytest

from ai_engine.config import Settings
from ai_engine.tools.base import ToolFailed, ToolOutcome, ToolRegistry, ToolSpec
from ai_engine.tools.lookup import fill
from ai_engine.tools.registry import build_registry

pytestmark = pytest.mark.anyio


class Actions:
    caller_number = "+4930555001"
    call_id = "c1"

    def __init__(self):
        self.transfers, self.hangups = [], []

    async def say(self, text):
        pass

    async def transfer(self, target):
        self.transfers.append(target)
        return {"transferred": True, "target": target}

    async def hangup(self, farewell):
        self.hangups.append(farewell)


class Tool:
    def __init__(self, name="t", behaviour=None):
        self.spec = ToolSpec(name, "a test tool")
        self.behaviour = behaviour

    async def run(self, arguments, ctx):
        if self.behaviour == "fail":
            raise ToolFailed("the shop is closed")
        if self.behaviour == "crash":
            raise KeyError("bug")
        if self.behaviour == "hang":
            await anyio.sleep_forever()
        return ToolOutcome({"echo": arguments})


async def test_a_tool_gets_the_parsed_arguments_and_its_answer_goes_back():
    out = await ToolRegistry([Tool()], 1.0).execute("t", '{"a": 1}', Actions())
    assert out.output == {"echo": {"a": 1}} and out.respond and json.loads(out.text()) == {"echo": {"a": 1}}


@pytest.mark.parametrize(
    ("name", "arguments", "behaviour", "error"),
    [
        ("nope", "{}", None, "there is no tool named 'nope'"),
        ("t", "not json", None, "the arguments are not valid JSON"),
        ("t", "[1]", None, "the arguments must be a JSON object"),
        ("t", "{}", "fail", "the shop is closed"),
        ("t", "{}", "crash", "the t tool failed (KeyError)"),
        ("t", "{}", "hang", "the t tool did not answer within 0.05 s"),
    ],
)
async def test_every_failure_is_an_error_for_the_model_never_an_exception(name, arguments, behaviour, error):
    out = await ToolRegistry([Tool(behaviour=behaviour)], 0.05).execute(name, arguments, Actions())
    assert out.output == {"error": error} and out.respond


async def test_built_in_transfer_and_hangup_act_on_the_call_and_leave_the_talking_to_the_engine():
    persona = Settings(
        personas={"p": {"tools": ["transfer", "hangup"], "transfer_targets": {"sales": {"context": "from-internal", "extension": "600"}}}}
    ).personas["p"]
    registry = build_registry(persona)
    assert [s.name for s in registry.specs()] == ["transfer", "hangup"]
    assert registry.specs()[0].parameters["properties"]["target"]["enum"] == ["sales"]
    actions = Actions()
    out = await registry.execute("transfer", '{"target": "sales"}', actions)
    assert actions.transfers == ["sales"] and out.output == {"transferred": True, "target": "sales"} and not out.respond
    out = await registry.execute("transfer", '{"target": "kitchen"}', actions)
    assert "unknown transfer target 'kitchen'" in out.output["error"] and actions.transfers == ["sales"]
    out = await registry.execute("hangup", "{}", actions)
    assert actions.hangups == [persona.farewell] and not out.respond


def test_greeting_placeholders_are_filled_from_lookup_fields_and_never_break_the_greeting():
    assert fill("Hello {caller_name}!", {"caller_name": "Ada"}) == "Hello Ada!"
    assert fill("Hello {caller_name}!", {}) == "Hello !"
    assert fill("Hello {caller_name}!", {"caller_name": {"nested": 1}}) == "Hello !"
    assert fill("Odd {brace", {"x": 1}) == "Odd {brace"


def test_settings_refuse_a_key_map_that_names_an_unknown_target_or_action():
    with pytest.raises(ValueError, match="action"):
        Settings(personas={"default": {"dtmf_keys": {"1": "dance"}}})
    with pytest.raises(ValueError, match="digits"):
        Settings(personas={"default": {"dtmf_keys": {"x": "hangup"}}})
    settings = Settings(ari={"password": "a-real-one"}, personas={"default": {"dtmf_keys": {"0": "transfer operator"}}})
    with pytest.raises(ValueError, match="no transfer target 'operator'"):
        settings.check_ready_to_run()
    settings = Settings(ari={"password": "a-real-one"}, personas={"default": {"tools": ["lookup"]}})
    with pytest.raises(ValueError, match="tools has lookup but personas.default.lookup.url is not set"):
        settings.check_ready_to_run()


async def test_a_tool_with_its_own_longer_bound_is_not_cut_by_the_personas_tool_timeout():
    class Ringing(Tool):
        timeout_s = 5.0  # an attended transfer rings longer than tool_timeout_s

        async def run(self, arguments, ctx):
            await anyio.sleep(0.1)
            return ToolOutcome({"transferred": False, "reason": "no answer"})

    out = await ToolRegistry([Ringing()], 0.01).execute("t", "{}", Actions())
    assert out.output == {"transferred": False, "reason": "no answer"}
    persona = Settings(personas={"p": {"tools": ["transfer"], "tool_timeout_s": 5, "transfer_targets": {
        "tech": {"context": "from-internal", "extension": "2001", "mode": "attended", "answer_timeout_s": 45}}}}).personas["p"]
    assert build_registry(persona).tools["transfer"].timeout_s > 45


def test_a_persona_with_every_tool_configured_passes_the_startup_check(tmp_path):
    Settings(ari={"password": "a-real-one"}, personas={"default": {
        "tools": ["transfer", "hangup", "lookup", "knowledge_base"],
        "transfer_targets": {"operator": {"context": "from-internal", "extension": "1001"}},
        "lookup": {"url": "http://127.0.0.1:9/lookup"}, "knowledge_base": {"folder": str(tmp_path)},
    }}).check_ready_to_run()
