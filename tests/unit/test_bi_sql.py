"""docs/sql/ is generated from the trend query builders (streams/trends/bi_sql.py): the trend SQL exists once."""

from __future__ import annotations

import re

import pytest

from streams.trends import bi_sql
from streams.trends.queries import TrendQuery


def test_bi_sql_docs_are_what_the_builders_give():
    assert bi_sql.differences() == [], "docs/sql/ differs from streams/trends/queries.py: run `make docs-sql`"


def test_bi_sql_check_reports_an_edited_stale_or_missing_file(tmp_path):
    bi_sql.write(tmp_path)
    assert bi_sql.differences(tmp_path) == []
    (tmp_path / "top_posts.sql").write_text((tmp_path / "top_posts.sql").read_text().replace("LIMIT 10", "LIMIT 5"))
    (tmp_path / "volume_by_network.sql").unlink()
    (tmp_path / "old_query.sql").write_text("SELECT 1\n")
    assert bi_sql.differences(tmp_path) == ["old_query.sql", "top_posts.sql", "volume_by_network.sql"]
    bi_sql.write(tmp_path)
    assert bi_sql.differences(tmp_path) == []


@pytest.mark.parametrize("doc", bi_sql.DOCUMENTED, ids=lambda d: d.file)
def test_bi_sql_formatting_changes_only_whitespace_outside_literals(doc):
    sql = doc.build(bi_sql._sample(doc.reference)).sql
    formatted = bi_sql.format_sql(sql)
    assert re.sub(r"\s+", "", formatted) == re.sub(r"\s+", "", sql)
    assert re.findall(r"'(?:[^'\\]|\\.)*'", formatted) == re.findall(r"'(?:[^'\\]|\\.)*'", sql)
    assert formatted.count("\n") > 3


def test_bi_sql_format_keeps_keywords_inside_literals_and_expressions_on_one_line():
    sql = "SELECT 'a FROM b' AS x, sumIf(c, k > 0 AND k < 3) AS y FROM (SELECT 1 AS c) WHERE x != '' AND y > 0"
    assert bi_sql.format_sql(sql) == ("SELECT 'a FROM b' AS x, sumIf(c, k > 0 AND k < 3) AS y\n"
                                      "FROM (\n    SELECT 1 AS c\n)\nWHERE x != ''\nAND y > 0")


def test_bi_sql_time_parameters_become_offsets_of_the_reference():
    rising = next(d for d in bi_sql.DOCUMENTED if d.file == "rising_terms.sql")
    query, offsets = bi_sql._offsets(rising)
    assert offsets == {"end": bi_sql._Offset("at", 0), "current_start": bi_sql._Offset("at", -3600),
                       "baseline_end": bi_sql._Offset("hour of at", -3600),
                       "start": bi_sql._Offset("hour of at", -25 * 3600),
                       "filter_start": bi_sql._Offset("hour of at", -3600)}
    assert query.params["window"] == 3600 and "window" not in offsets  # constants stay literals
    assert offsets["start"].sql("minute") == f"({bi_sql.LATEST_HOUR} - 90000)"


@pytest.mark.parametrize("param", [
    lambda at: int(at.timestamp()) * 2,  # moves twice as fast as the reference
    lambda at: at.day,  # constant within the sample's hour, not at the other reference times checked
])
def test_bi_sql_refuses_a_parameter_that_is_not_an_offset_of_the_reference(param):
    doc = bi_sql.DocQuery("x.sql", "x", "minute", lambda at: TrendQuery("x", "SELECT %(p)s", {"p": param(at)}))
    with pytest.raises(ValueError, match="x.sql"):
        bi_sql.render(doc)
