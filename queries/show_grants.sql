-- The privileges of the account we are connected as.
SHOW GRANTS
