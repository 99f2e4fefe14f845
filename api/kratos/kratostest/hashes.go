package kratostest

// ImportedHash is a password hash in one of the formats Kratos accepts for
// import (credentials.password.config.hashed_password), with the password
// that matches it.
type ImportedHash struct {
	Name     string // format, unique
	Password string
	Hash     string
}

// ImportedHashes holds one hash per supported import format. The identity
// import test creates one identity per entry and checks the password
// against the stored hash; the self-service login test ranges over the same
// table to log in with each. The vectors were made by tools other than
// Latchkey (htpasswd, the argon2 reference CLI, python3 hashlib/hmac,
// openssl passwd, ory/kratos' own test vectors); they are a cheap subset of
// method/password's known-answer vectors.
var ImportedHashes = []ImportedHash{
	{"bcrypt", "correct horse", "$2y$05$a1tZMhm9UOE086F9Gkh9yuQep/JzwGgzrs2bDYSY14OQ2ig6yQePe"},
	{"argon2id", "correct horse", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw"},
	{"argon2i", "correct horse", "$argon2i$v=19$m=32,t=3,p=2$YW5vdGhlcnNhbHQh$fH1t8fen5UNwJPQCrIUn9tWV+Dqz/4Su"},
	{"pbkdf2-sha1", "correct horse", "$pbkdf2-sha1$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$mZ1fxaER8ve58Rl3fqLFRlJBSIV+GAQX6MMyCh9yTrw"},
	{"pbkdf2-sha256", "correct horse", "$pbkdf2-sha256$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$P9ie5W1CBV7fO0gFVTJFaCJVtGVq/TRjtFlDXxH4lso"},
	{"pbkdf2-sha512", "correct horse", "$pbkdf2-sha512$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$Ey19/jxe2FLQf/RKtEFr6sqkjKNN7ElVcyhHV4aKS0w"},
	{"scrypt", "correct horse", "$scrypt$ln=1024,r=8,p=1$TmFDbC1zYWx0LTE2Ynl0ZQ==$gkjuJFs/EcPBaq4PINEJDtMUKZqNDASRkiG2Vv24NBg="},
	{"firescrypt", "correct horse", "$firescrypt$ln=10,r=8,p=1$ZmlyZS1zYWx0$NpXnV42emD1sNBK6VbrdGyB+o5cfq2yhwIO6NCaI4h5txPDrGKQ0LdS/DIgCaUxBzLUDhTjf76WZyr0LKUWpmA==$Bw==$KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZw=="},
	{"ssha", "correct horse", "{SSHA}w6gQbRSjA8cu3Ta7oLSOJdoCNqABAnNhbHR5/w=="},
	{"ssha256", "correct horse", "{SSHA256}t1uWr3d66A/JwW+WRUPIYS0RvywDDHD4L9N6M5D5CHoBAnNhbHR5/w=="},
	{"ssha512", "correct horse", "{SSHA512}UNYf4r2mMiiCs9e9gfWZu3gt+bq2DZ4QM3u59w8mHOHXfuLrOrZzprQlZ0If4XMouaEPII0CvgZB9zkS8VGxLQECc2FsdHn/"},
	{"sha1", "correct horse", "$sha1$pf=e1NBTFR9Ojp7UEFTU1dPUkR9$cGVwcGVy$aPmiJZF0g1GUmsqBP6AK6WNB0y4="},
	{"sha256", "correct horse", "$sha256$pf=e1NBTFR9Ojp7UEFTU1dPUkR9$cGVwcGVy$kpP5Iwq0PV8YLNhQU98O0tib/LFriXQ15WL5NqFJYrI="},
	{"sha512", "correct horse", "$sha512$pf=e1NBTFR9Ojp7UEFTU1dPUkR9$cGVwcGVy$e87DHLiCQTX1aWl9E8P8vq1tKKt/YaQ51a5qoPk5W3YbYmyQ5QeRNexOCSmqkCENoOb9GfGL5ADuxd9JK4N8kw=="},
	{"md5", "correct horse", "$md5$PLTnMmMfR+brlh80VUt83g=="},
	{"md5-salted", "correct horse", "$md5$pf=e1BBU1NXT1JEfXtTQUxUfQ==$eHl6$BQDhnkiVEIz1xeY6C2NFGw=="},
	{"hmac-sha1", "correct horse", "$hmac-sha1$NTkzYzBhMjA2OWIyZjIzMjkwNDc2Y2UyNDJlZWUwOWY0MGQ4ZjQ0Ng==$c2VydmVyLXNlY3JldA=="},
	{"hmac-sha256", "correct horse", "$hmac-sha256$NDhhZWVlYTI5YTNkOGRlNDRiZWJmYWJiNjQ4YWUwMmMxOWUyOTVlOTMxMjk3OWE1MmUzNjZkZDMyOWJhMzdhNg==$c2VydmVyLXNlY3JldA=="},
	{"hmac-sha512", "correct horse", "$hmac-sha512$MDM4OThmZDNiZTQ0YzlkZDM2ZGFmZDU2OWZhODliODBjMjBlMjg2YWFlZjY2NDQ1MDgzMzU3ZWZiNzViZTljMDJkMjc2ZTgzYTMzMzdlNTcyYTM5NWM1NDhlMjVkYzdlYTMyY2RhZmY4YmM1NzBkY2Q1OTZhYjRiYjY0NTVhZTA=$c2VydmVyLXNlY3JldA=="},
	{"md5-crypt", "correct horse", "$1$saltsalt$NuzA7WTAelpl95xgBGWN60"},
	{"sha256-crypt", "correct horse", "$5$abcdefgh12345678$9unobV54z8E2.elrCkc7/lqq8s/w188FUsdcHCxVP19"},
	{"sha512-crypt", "correct horse", "$6$Zq9.Rm/2$Kk0akxtlVSFinNNXq1DubBg7KTNUPOV2nIV3mJlnjj7r3V2z2zhgL1yNRlm9Jz2UvYO3ERMYSIZ6r4kCTtW79/"},
	{"kratos-md5-crypt", "test", "$md5-crypt$TVEiiKNb$SN6/pUaRQS/E8Jh46As2C/"},
}
