"""Search finds every word users type: inside markup, and inside CJK text (bigrams).

Driven by real records in tests/data: the Japanese Clipkit Trello board
(``trello_clipkit_sample.json``), a GoCD card description with Markdown emphasis
(``trello_variants.json``, card 93: "the _easy_ part"), the Slack message
"re*science* looks very interesting" (``slack_sample/sci/2016-07-16.json``). Each is
searched through the CLI as a user would; the analyser's tokens are checked directly
too.
"""

from __future__ import annotations

import json

import pytest
from conftest import TEST_DATA, import_json

CLIPKIT = TEST_DATA / "trello_clipkit_sample.json"
VARIANTS = TEST_DATA / "trello_variants.json"
SLACK = TEST_DATA / "slack_sample"


def terms(text: str, mode: str = "query") -> list[str]:
    from gitstore_index.analysis import text_analyzer

    return [t.text for t in text_analyzer()(text, mode=mode)]


def hits(gs, query: str) -> set[str]:
    result = gs("search", query, "--limit", "100", "--json")
    assert result.exit_code == 0, result.output
    return {h["t_no"] for h in json.loads(result.stdout)["hits"]}


def card_ticket(board: dict, name_part: str) -> str:
    card = next(c for c in board["cards"] if name_part in c["name"])
    return f"TR-{board['shortLink']}-{card['idShort']}"


def test_markup_does_not_hide_words():
    assert terms("the _easy_ part") == ["easi", "part"]  # stemmed like "easy"
    assert terms("re*science* `ReScience` ~~gone~~ done.") == ["re", "scienc", "rescienc", "gone", "done"]
    # joined words stay one query term, and their parts are indexed too
    assert terms("help.minecraft.net max_connections") == ["help.minecraft.net", "max_connect"]
    assert terms("help.minecraft.net", mode="index") == ["help.minecraft.net", "help", "minecraft", "net"]


def test_cjk_runs_are_overlapping_bigrams():
    assert terms("記事の画像") == ["記事", "事の", "の画", "画像"]
    assert terms("画像") == ["画像"]
    indexed = terms("画像アイテム", mode="index")
    assert {"画像", "像ア", "アイ", "イテ", "テム"} <= set(indexed) and {"画", "ム"} <= set(indexed)
    assert terms("Clipkitの機能") == ["clipkit", "の機", "機能"]


def test_japanese_words_of_the_clipkit_board_are_found(gs):
    import_json(gs, "trello", str(CLIPKIT))
    board = json.loads(CLIPKIT.read_text(encoding="utf-8"))
    # words inside runs of Japanese text (no spaces), in card names and descriptions
    assert hits(gs, "画像") >= {card_ticket(board, "記事の画像をもっと大きく表示させたい")}
    assert card_ticket(board, "画像アイテムに長いURL") in hits(gs, "下書き")
    assert card_ticket(board, "キュレータ向けヘルプ画面") in hits(gs, "ヘルプ")  # Katakana
    assert card_ticket(board, "キュレータ向けヘルプ画面") in hits(gs, '"閲覧権限"')  # a phrase
    assert card_ticket(board, "まとめ項目「商品」を作る") in hits(gs, "商")  # one character
    assert hits(gs, "存在しない言葉") == set()


def test_words_in_markdown_and_slack_markup_are_found(gs):
    import_json(gs, "trello", str(VARIANTS))
    board = json.loads(VARIANTS.read_text(encoding="utf-8"))
    card = next(c for c in board["cards"] if c["idShort"] == 93)
    assert "_easy_" in card["desc"]
    assert f"TR-{board['shortLink']}-93" in hits(gs, "easy")
    import_json(gs, "slack", str(SLACK), "--channel-map", "*=SLACK-{channel}")
    assert "SLACK-sci" in hits(gs, "science")  # "re*science*"
    assert "SLACK-sci" in hits(gs, "rescience")  # "`ReScience`"


def test_an_index_of_the_previous_schema_is_rebuilt(gs):
    """An index built with the old analyser (schema 2) is rebuilt on open, so CJK words
    are found without a manual ``index rebuild``."""
    from gitstore_index.paths import STATE_FILE
    from gitstore_index.schema import SCHEMA_VERSION

    import_json(gs, "trello", str(CLIPKIT))
    assert hits(gs, "画像")
    state_path = next(gs.path.joinpath(".git", "gitstore").rglob(STATE_FILE))
    state = json.loads(state_path.read_text())
    assert state["schema_version"] == SCHEMA_VERSION == 4
    state["schema_version"] = 2
    state_path.write_text(json.dumps(state))
    assert hits(gs, "画像")
    assert json.loads(state_path.read_text())["schema_version"] == 4


@pytest.mark.parametrize("query", ["printers", "printer"])
def test_stemming_still_applies(query):
    assert terms(query) == ["printer"]
