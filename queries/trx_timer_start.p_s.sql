-- When each active transaction began, in picoseconds since start-up: it orders transactions that
-- trx_started's one-second resolution ties. Read ahead with each snapshot where the processlist
-- comes from performance_schema.processlist, which does not carry it (it needs only PROCESS;
-- this needs SELECT on performance_schema, and its answer is dropped without it).
SELECT th.PROCESSLIST_ID AS pid, e.TIMER_START AS timer_start
FROM performance_schema.events_transactions_current e
JOIN performance_schema.threads th ON th.THREAD_ID = e.THREAD_ID
WHERE e.STATE = 'ACTIVE' AND th.PROCESSLIST_ID IS NOT NULL
