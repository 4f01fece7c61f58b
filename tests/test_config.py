from __future__ import annotations

from pathlib import Path

import pytest

from smallagent.config import (
    AskOptions,
    Settings,
    load_settings,
    normalize_host,
    settings_report,
    user_data_dir,
)
from smallagent.energy import energy_settings
from smallagent.errors import ConfigError, OptionError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("localhost", "http://localhost:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("http://example.org:9000/", "http://example.org:9000"),
        ("https://example.org", "https://example.org:443"),
        ("[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_normalize_host_accepts_every_ollama_spelling(given: str, expected: str) -> None:
    assert normalize_host(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "ftp://host", "host:notaport", "http://"])
def test_normalize_host_rejects_nonsense(bad: str) -> None:
    with pytest.raises(ConfigError):
        normalize_host(bad)


def _load(tmp_path: Path, **kwargs: object) -> Settings:
    kwargs.setdefault("environ", {})
    kwargs.setdefault("cwd", tmp_path)
    kwargs.setdefault("user_config_dir", tmp_path / "user")
    return load_settings(**kwargs)  # type: ignore[arg-type]


def test_defaults_when_nothing_is_configured(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.model == "qwen2.5:3b"
    assert settings.ollama_host == "http://127.0.0.1:11434"
    # issue 13: no longer ./indexes, which made indexes depend on the current folder
    assert settings.index_dir == user_data_dir() / "indexes"
    assert settings.source_of("index_dir") == "default (user data directory)"
    assert settings.source_of("model") == "default"


def test_the_nearest_indexes_folder_holding_indexes_wins_from_any_subfolder(
    tmp_path: Path,
) -> None:
    (tmp_path / "indexes" / "examples").mkdir(parents=True)
    deep = tmp_path / "a" / "b"
    (deep / "indexes").mkdir(parents=True)  # empty: not smallagent's, passed over
    assert _load(deep).index_dir == user_data_dir() / "indexes"
    (tmp_path / "indexes" / "examples" / "meta.sqlite").write_bytes(b"")
    settings = _load(deep)
    assert settings.index_dir == tmp_path / "indexes"
    assert settings.source_of("index_dir") == "nearest indexes/ with indexes"
    flagged = _load(deep, flags={"index_dir": tmp_path / "elsewhere"})
    assert flagged.index_dir == tmp_path / "elsewhere"
    assert flagged.source_of("index_dir") == "--index-dir"
    from_env = _load(deep, environ={"SMALLAGENT_INDEX_DIR": "x"})
    assert from_env.index_dir == deep / "x"


def test_a_bad_index_name_is_a_config_error(tmp_path: Path) -> None:
    for bad in ("../etc", ".hidden", "a/b", ""):
        with pytest.raises(ConfigError) as caught:
            _load(tmp_path, flags={"index": bad})
        assert caught.value.exit_code == 2


def test_settings_report_names_every_setting_and_path(tmp_path: Path) -> None:
    settings = _load(tmp_path, flags={"model": "m"}, environ={"SMALLAGENT_HISTORY": "off"})
    report = settings_report(settings, environ={}, cwd=tmp_path)
    rows = {row["name"]: row for row in report["settings"]}
    assert set(rows) == {name for name in Settings.__dataclass_fields__ if name != "sources"}
    assert rows["model"] == {"name": "model", "value": "m", "source": "--model"}
    assert rows["history"] == {"name": "history", "value": False, "source": "$SMALLAGENT_HISTORY"}
    assert report["history_log"] == str(user_data_dir() / "history.sqlite")
    assert [item["path"] for item in report["config_files"]][-1] == str(
        tmp_path / "smallagent.toml"
    )


def test_layers_apply_in_order_user_project_env_flags(tmp_path: Path) -> None:
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "config.toml").write_text(
        'model = "from-user"\nindex = "user-index"\nembedding_model = "user-embedder"\n'
    )
    (tmp_path / "smallagent.toml").write_text('model = "from-project"\nindex = "project-index"\n')
    settings = _load(
        tmp_path,
        environ={"SMALLAGENT_MODEL": "from-env", "OLLAMA_HOST": "10.0.0.5:1234"},
        flags={"model": "from-flag", "index": None},
    )
    assert settings.model == "from-flag"
    assert settings.source_of("model") == "--model"
    assert settings.index == "project-index"
    assert settings.source_of("index") == str(tmp_path / "smallagent.toml")
    assert settings.embedding_model == "user-embedder"
    assert settings.ollama_host == "http://10.0.0.5:1234"
    assert settings.source_of("ollama_host") == "$OLLAMA_HOST"


def test_smallagent_host_variable_beats_ollama_host(tmp_path: Path) -> None:
    settings = _load(tmp_path, environ={"OLLAMA_HOST": "a:1", "SMALLAGENT_OLLAMA_HOST": "b:2"})
    assert settings.ollama_host == "http://b:2"


def test_index_dir_in_a_config_file_is_relative_to_that_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "smallagent.toml").write_text('index_dir = "data/idx"\n')
    settings = _load(tmp_path, cwd=project)
    assert settings.index_dir == project / "data" / "idx"


def test_explicit_config_file_replaces_the_search(tmp_path: Path) -> None:
    (tmp_path / "smallagent.toml").write_text('model = "ignored"\n')
    chosen = tmp_path / "other.toml"
    chosen.write_text('model = "chosen"\n')
    assert _load(tmp_path, config_file=chosen).model == "chosen"
    assert _load(tmp_path, environ={"SMALLAGENT_CONFIG": str(chosen)}).model == "chosen"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('modle = "typo"\n', "unknown setting(s) modle"),
        ("model = \n", "not valid TOML"),
        ("model = 3\n", "model must be a non-empty string"),
        ("request_timeout_s = -1\n", "must be positive"),
        ('request_timeout_s = "soon"\n', "must be a number"),
        ('ollama_host = "ftp://x"\n', "cannot read Ollama host"),
    ],
)
def test_bad_config_file_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "smallagent.toml").write_text(content)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _load(tmp_path)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        _load(tmp_path, config_file=tmp_path / "nope.toml")


def test_generation_caps_come_from_the_layers_and_must_hold_a_call(tmp_path: Path) -> None:
    assert _load(tmp_path).num_predict_caps() == {"plan": 640, "tool": 512, "answer": 512}
    (tmp_path / "smallagent.toml").write_text("num_predict_plan = 900\nnum_predict_answer = 200\n")
    settings = _load(tmp_path, environ={"SMALLAGENT_NUM_PREDICT_ANSWER": "256"})
    assert settings.num_predict_caps() == {"plan": 900, "tool": 512, "answer": 256}
    assert settings.source_of("num_predict_answer") == "$SMALLAGENT_NUM_PREDICT_ANSWER"
    for bad in (
        "num_predict_tool = 8\n",
        'num_predict_tool = "lots"\n',
        "num_predict_tool = 1.5\n",
    ):
        (tmp_path / "smallagent.toml").write_text(bad)
        with pytest.raises(ConfigError, match="num_predict_tool must be a whole number of tokens"):
            _load(tmp_path)


def test_how_the_agent_works_is_set_in_the_layers_and_checked(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert (settings.retrieve_first, settings.constrained_replies, settings.passage_chars) == (
        True,
        True,
        300,
    )
    (tmp_path / "smallagent.toml").write_text("retrieve_first = false\npassage_chars = 500\n")
    settings = _load(tmp_path, environ={"SMALLAGENT_CONSTRAINED_REPLIES": "off"})
    assert (settings.retrieve_first, settings.constrained_replies, settings.passage_chars) == (
        False,
        False,
        500,
    )
    assert _load(tmp_path).not_found_below == 0.4
    assert _load(tmp_path, environ={"SMALLAGENT_NOT_FOUND_BELOW": "0"}).not_found_below == 0.0
    assert (_load(tmp_path).escalate_below, _load(tmp_path).escalate_within) == (0.7, 1)
    assert _load(tmp_path, environ={"SMALLAGENT_ESCALATE_BELOW": "0"}).escalate_below == 0.0
    assert _load(tmp_path, environ={"SMALLAGENT_ESCALATE_WITHIN": "2"}).escalate_within == 2
    assert _load(tmp_path, environ={"SMALLAGENT_ESCALATE_BELOW": "0.5"}).escalate_below == 0.5
    for bad, message in (
        ('retrieve_first = "sometimes"\n', "retrieve_first must be true or false"),
        ("passage_chars = 20\n", "passage_chars must be a whole number, 80 to 4000"),
        ('passage_chars = "wide"\n', "passage_chars must be a whole number, 80 to 4000"),
        ("not_found_below = 1\n", "not_found_below must be a share from 0 .off. to below 1"),
        ("not_found_below = -0.1\n", "not_found_below must be a share"),
        ("not_found_below = true\n", "not_found_below must be a share"),
        ('not_found_below = "most"\n', "not_found_below must be a share"),
        ("escalate_below = 1\n", "escalate_below must be a share from 0 .off. to below 1"),
        ("escalate_below = true\n", "escalate_below must be a share"),
        ("escalate_within = -1\n", "escalate_within must be a whole number of requests"),
        ('escalate_within = "few"\n', "escalate_within must be a whole number of requests"),
    ):
        (tmp_path / "smallagent.toml").write_text(bad)
        with pytest.raises(ConfigError, match=message):
            _load(tmp_path)


# ---------------------------------------------------------------- the options of one question


@pytest.mark.parametrize(
    ("values", "name", "requirement"),
    [
        ({"max_steps": 0}, "max_steps", "must be a whole number >= 1"),
        ({"max_steps": True}, "max_steps", "must be a whole number >= 1"),
        ({"seed": -1}, "seed", "must be a whole number >= 0"),
        ({"num_ctx": 1000}, "num_ctx", "must be a whole number >= 1024"),
        ({"temperature": 2.5}, "temperature", "must be a number from 0 to 2"),
        ({"temperature": "hot"}, "temperature", "must be a number from 0 to 2"),
        ({"shell": "allow-all"}, "shell", "must be one of read-only, off, allow, not 'allow-all'"),
        ({"tools": ("search", "web")}, "tools", "has an unknown tool 'web'"),
        ({"max_wh": 0}, "max_wh", "must be positive"),
        ({"max_seconds": -1.0}, "max_seconds", "must be positive"),
    ],
)
def test_ask_options_are_checked_when_made(
    values: dict[str, object], name: str, requirement: str
) -> None:
    with pytest.raises(OptionError) as caught:
        AskOptions(**values)  # type: ignore[arg-type]
    assert caught.value.name == name
    assert caught.value.requirement.startswith(requirement)


def test_ask_options_need_an_existing_workdir(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="is not a directory"):
        AskOptions(workdir=tmp_path / "absent")


def test_ask_options_have_one_spelling_of_each_value(tmp_path: Path) -> None:
    options = AskOptions(workdir=tmp_path, temperature=1, tools=("shell", "search", "shell"))
    assert options.temperature == 1.0 and isinstance(options.temperature, float)
    assert options.tools == ("shell", "search")


def test_energy_settings_are_checked_when_made() -> None:
    with pytest.raises(OptionError, match="device_watts must be positive"):
        energy_settings(device_watts=0)
    with pytest.raises(OptionError, match="grid_gco2_per_kwh must not be negative"):
        energy_settings(grid_gco2_per_kwh=-1)
    assert energy_settings(device_watts=25).device_label == "25 W"
