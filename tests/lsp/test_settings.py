"""Settings: initializationOptions under workspace/configuration, didChangeConfiguration, bad values reported."""

from __future__ import annotations

from lsprotocol import types

from tests.lsp.conftest import Start

CART = "shop/cart.py"


async def test_configuration_overrides_initialization_options_and_changes_apply_at_once(serve: Start):
    client = await serve("shop", init={"severity": {"workspace": "warning"}, "missedLinesAsHints": True},
                         settings={"severity": {"workspace": "error"}})
    await client.run_complete()
    cart = client.diagnostics[client.uri(CART)]
    assert [(d.code, d.severity) for d in cart if d.code == "workspace"] == [("workspace", 1)]
    assert len([d for d in cart if d.code == "missed-line"]) == 3  # from initializationOptions, not overridden

    after = client.inbox.mark()
    client.set_configuration({"severity": {"workspace": "off"}, "missedLinesAsHints": False}, section="covlens")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await client.diagnostics_of(CART, lambda ds: ds == [], after)


async def test_invalid_settings_are_shown_to_the_user_and_ignored(serve: Start):
    client = await serve("shop", init={"debounceMs": "soon", "colour": "blue"})
    await client.run_complete()
    messages = [m.message for m in client.messages]
    assert any("covlens setting `debounceMs` ignored: must be a number" in m for m in messages)
    assert any("unknown covlens setting `colour` ignored" in m for m in messages)


def test_each_layer_overrides_the_one_below_key_by_key_and_pyproject_comes_first():
    from covlens.config import Config
    from covlens.lsp.settings import Settings

    layered, problems = Settings().merged({"engine": "ast", "pytestArgs": ["-x"], "severity": {"guard": "error"}})
    layered, more = layered.merged({"engine": "monitor", "severity": {"pragma": "off"}})
    assert problems == more == []
    assert layered.engine == "monitor" and layered.pytest_args == ("-x",)
    assert layered.severity_of("guard") == types.DiagnosticSeverity.Error
    assert layered.severity_of("pragma") is None and layered.severity_of("stdlib") is None
    config = layered.apply_to(Config(root="/p", pytest_args=("-q",), engine="auto", timeout=5.0))
    assert (config.pytest_args, config.engine, config.timeout) == (("-q", "-x"), "monitor", 5.0)


def test_a_bad_value_is_reported_and_the_layer_below_kept():
    from covlens.lsp.settings import Settings

    settings, problems = Settings().merged({"severity": {"guard": "loud"}, "timeout": -1, "autoRun": "yes"})
    assert settings == Settings()
    assert len(problems) == 3 and all("ignored" in p for p in problems)
