-- InnoDB's own report: the latest deadlock and the history list length (needs PROCESS).
SHOW ENGINE INNODB STATUS
