import pytest, anyio
from structlog.testing import capture_logs
import test_provider_calls as t
pytestmark = pytest.mark.anyio
async def test_dbg(tmp_path):
    vendor = t.VENDORS["gemini_live"]
    with capture_logs() as logs:
        try:
            await t.test_barge_in_stops_our_audio_and_the_vendor_knows(tmp_path, vendor)
        finally:
            for l in logs:
                if l['event'] not in ('agent.text',) and not l['event'].startswith(('ari','emu')): print(round(anyio.current_time(),2) if False else '', {k:v for k,v in l.items() if k!='log_level'})
