-- Each applier worker: what it applies now and what it applied last, with the original commit
-- timestamps that give the true applier lag (MySQL 8.0+).
SELECT w.CHANNEL_NAME AS channel,
       w.WORKER_ID AS worker_id,
       t.PROCESSLIST_ID AS pid,
       w.SERVICE_STATE AS service_state,
       t.PROCESSLIST_STATE AS state,
       NULLIF(w.APPLYING_TRANSACTION, '') AS applying,
       IF(w.APPLYING_TRANSACTION = '', NULL,
          TIMESTAMPDIFF(MICROSECOND, w.APPLYING_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP, NOW(6))) AS applying_lag_us,
       NULLIF(w.LAST_APPLIED_TRANSACTION, '') AS last_applied,
       IF(w.LAST_APPLIED_TRANSACTION = '', NULL,
          TIMESTAMPDIFF(MICROSECOND, w.LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP,
                        w.LAST_APPLIED_TRANSACTION_END_APPLY_TIMESTAMP)) AS last_applied_lag_us,
       NULLIF(w.LAST_ERROR_NUMBER, 0) AS error_number,
       NULLIF(w.LAST_ERROR_MESSAGE, '') AS error_message,
       IF(w.LAST_ERROR_NUMBER = 0, NULL, CAST(w.LAST_ERROR_TIMESTAMP AS CHAR)) AS error_at
FROM performance_schema.replication_applier_status_by_worker w
LEFT JOIN performance_schema.threads t ON t.THREAD_ID = w.THREAD_ID
ORDER BY w.CHANNEL_NAME, w.WORKER_ID
