-- The TLS cipher of this session ('' when the connection is not encrypted).
SHOW SESSION STATUS LIKE 'Ssl_cipher'
