-- Statement counters per digest (performance_schema), for `top`'s per-window deltas: calls,
-- total latency (picoseconds) and rows examined. Read every few samples, not every one.
SELECT DIGEST AS digest, DIGEST_TEXT AS digest_text, COUNT_STAR AS calls,
       SUM_TIMER_WAIT AS timer_ps, SUM_ROWS_EXAMINED AS rows_examined
FROM performance_schema.events_statements_summary_by_digest
WHERE DIGEST IS NOT NULL
