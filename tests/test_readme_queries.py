"""Every SQL block in the README runs against the bundled warehouse and answers its question."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def readme_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_a_query_for_each_design_question():
    assert len(readme_queries()) >= 4


def test_every_readme_query_returns_rows(published):
    for query in readme_queries():
        rows = published.execute(query).fetchall()
        assert rows, f"no rows for:\n{query}"


def test_gpu_question_shows_multi_year_h100_history(published):
    rows = published.execute(readme_queries()[0]).fetchall()
    h100_months = [row[0] for row in rows if row[1] == "H100"]
    assert min(h100_months).year <= 2023 and max(h100_months).year == 2026


def test_token_question_shows_the_gpt_4o_price_cut(published):
    rows = published.execute(readme_queries()[1]).fetchall()
    prices = {(float(row[1]), float(row[2])) for row in rows}
    assert {(5.0, 15.0), (2.5, 10.0)} <= prices


def test_margin_question_shows_direct_estimates_and_proxy_bands(published):
    # issue 13: query 3 reads the headline estimate; direct margins for open models, a band for gpt-4o
    rows = published.execute(readme_queries()[2]).fetchall()
    by_model = {}
    for model, _provider, is_proxy, _proxy, _basis, _in, _out, low, central, high, *_ in rows:
        by_model.setdefault(model, set()).add(is_proxy)
        assert low <= central <= high < 1
    assert by_model["deepseek-r1"] == {False} and by_model["gpt-oss-120b"] == {False}
    assert by_model["gpt-4o"] == {True}
    assert {row[1] for row in rows if row[0] == "llama-3.1-405b-instruct"} & {"together_ai", "fireworks_ai"}


def test_lifetime_question_has_every_lifetime_and_the_essay_break_even(published):
    rows = published.execute(readme_queries()[3]).fetchall()
    assert [row[0] for row in rows] == [6, 12, 18, 24, 36, 48]
    revenue, serving = rows[0][1], rows[0][2]
    assert revenue == 200_000_000 and round(serving) == 122_112_000
    assert {row[5] for row in rows} == {25.7}
