//! Safe to share, on every server: a statement that carries a password never appears in any
//! output (JSON, tables, the evidence log, the report), and one that carries an email and a
//! card-like number is kept whole in the evidence log, masked in the report by default, and
//! shown in the internal report (`--no-redact`).
//!
//! The incident: an older idle decoy transaction on row 2, an idle holder of row 1, and two
//! sessions waiting for row 1, one setting a password, one setting an email and a card number.

use std::process::Output;
use std::time::Duration;

use mysql_async::prelude::*;

use crate::support::{self, Mytriage, TestServer};

const SECRET: &str = "Planted-Secret-1";
const EMAIL: &str = "alice@example.com";
const CARD: &str = "4111 1111 1111 1111";

/// A session of its own running `sql` (which waits for a lock), and its id once it waits.
async fn waiting(server: &TestServer, sql: String) -> (u64, tokio::task::JoinHandle<()>) {
    let (pid, task) = server.in_background(sql).await;
    let mut probe = server.conn().await;
    for _ in 0..100 {
        let state: Option<Option<String>> = probe
            .exec_first(
                "SELECT trx_state FROM information_schema.INNODB_TRX t \
                 JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
                 WHERE p.ID = ?",
                (pid,),
            )
            .await
            .unwrap();
        if state.flatten().as_deref() == Some("LOCK WAIT") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = probe.disconnect().await;
    (pid, task)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn no_output_holds_a_planted_password_and_the_report_masks_literals_unless_asked() {
    for server in support::servers() {
        support::announce("redaction", &server);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("evidence.jsonl");
        let log_arg = log.to_str().unwrap().to_owned();
        let table = server.scratch_table("redact").await;
        let mut admin = server.conn().await;
        admin
            .query_drop(format!(
                "ALTER TABLE {table} ADD COLUMN email VARCHAR(100), ADD COLUMN card VARCHAR(30), \
                 ADD COLUMN password VARCHAR(100)"
            ))
            .await
            .unwrap();
        let mut decoy = server.conn().await;
        decoy.query_drop("BEGIN").await.unwrap();
        decoy
            .query_drop(format!("UPDATE {table} SET v = 1 WHERE id = 2"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let mut holder = server.conn().await;
        holder.query_drop("BEGIN").await.unwrap();
        holder
            .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 1"))
            .await
            .unwrap();
        let (secret_pid, secret_task) = waiting(
            &server,
            format!("UPDATE {table} SET password = '{SECRET}' WHERE id = 1"),
        )
        .await;
        let (email_pid, email_task) = waiting(
            &server,
            format!("UPDATE {table} SET email = '{EMAIL}', card = '{CARD}' WHERE id = 1"),
        )
        .await;

        let run = |args: &[&str]| text(&Mytriage::new(&server.url).args(args).output());
        let offline = |args: &[&str]| text(&Mytriage::offline().args(args).output());
        let mut outputs = vec![
            (
                "processlist json",
                run(&["processlist", "--format", "json"]),
            ),
            ("processlist table", run(&["processlist", "--full"])),
            ("locks json", run(&["locks", "--format", "json"])),
            ("locks table", run(&["locks", "--full"])),
            ("status json", run(&["status", "--format", "json"])),
            (
                "trx json",
                run(&["trx", "--min-age", "0s", "--format", "json"]),
            ),
            (
                "explain",
                run(&["explain", &secret_pid.to_string(), "--format", "json"]),
            ),
        ];
        let email_seen = outputs[0].1.contains(EMAIL);
        let decoy_pid: u64 = decoy
            .query_first("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        let holder_pid: u64 = holder
            .query_first("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        let locks = Mytriage::new(&server.url)
            .args(["locks", "--format", "json"])
            .json();
        let roots: Vec<u64> = locks["roots"]
            .as_array()
            .expect("roots")
            .iter()
            .filter_map(|r| r["pid"].as_u64())
            .collect();
        offline(&[
            "incident",
            "start",
            "--title",
            "redaction",
            "--evidence",
            &log_arg,
        ]);
        for pid in [secret_pid, email_pid] {
            outputs.push((
                "kill",
                run(&[
                    "kill",
                    &pid.to_string(),
                    "--query",
                    "--yes",
                    "--reason",
                    "redaction test",
                    "--evidence",
                    &log_arg,
                    "--format",
                    "json",
                ]),
            ));
        }
        offline(&["incident", "end", "--evidence", &log_arg]);
        let shared = offline(&["report", "--lang", "en", "--evidence", &log_arg]);
        let internal = offline(&[
            "report",
            "--lang",
            "en",
            "--no-redact",
            "--evidence",
            &log_arg,
        ]);
        outputs.push(("evidence", offline(&["evidence", "--evidence", &log_arg])));
        let written = std::fs::read_to_string(&log).unwrap();

        let _ = holder.query_drop("ROLLBACK").await;
        let _ = decoy.query_drop("ROLLBACK").await;
        secret_task.await.unwrap();
        email_task.await.unwrap();
        let _ = admin.query_drop(format!("DROP TABLE {table}")).await;

        // The holder is the culprit; the older idle transaction on another row blocks nobody.
        assert!(roots.contains(&holder_pid), "{locks:#}");
        assert!(
            !roots.contains(&decoy_pid),
            "the decoy is not blamed: {locks:#}"
        );
        for (what, output) in outputs.iter().chain([
            &("report", shared.clone()),
            &("report --no-redact", internal.clone()),
        ]) {
            assert!(
                !output.contains(SECRET),
                "{what} shows the password: {output}"
            );
        }
        assert!(
            !written.contains(SECRET),
            "the evidence log holds the password"
        );
        assert!(written.contains("<redacted>"), "{written}");
        // The other statement is evidence, kept whole in the log and in the internal report.
        assert!(email_seen, "the processlist shows the running statement");
        assert!(
            written.contains(EMAIL) && written.contains(CARD),
            "{written}"
        );
        assert!(
            internal.contains(EMAIL) && internal.contains(CARD),
            "{internal}"
        );
        assert!(
            !shared.contains(EMAIL) && !shared.contains(CARD),
            "{shared}"
        );
        assert!(shared.contains("SET email = ?"), "{shared}");
    }
}
