package password

// knownAnswer is a stored hash made by a source other than this package,
// with the password that matches it.
type knownAnswer struct {
	name     string
	encoded  string
	password string
	scheme   string // what Scheme reports
	source   string
}

// Where the vectors come from. None is this package's own output.
const (
	srcKratos     = "ory/kratos hash/hasher_test.go"
	srcOpenSSL    = "openssl passwd (OpenSSL 3)"
	srcGlibc      = "python3 crypt.crypt (glibc libxcrypt)"
	srcHtpasswd   = "htpasswd -nbB (Apache 2.4)"
	srcArgon2CLI  = "argon2 reference CLI (Debian argon2 0~20171227)"
	srcPython     = "python3 hashlib/hmac (OpenSSL)"
	srcPythonSSL  = "python3 hashlib.scrypt + openssl enc -aes-256-ctr"
	pw            = "correct horse"
	pw72          = "0123456789012345678901234567890123456789012345678901234567890123456789ab"
	pwUTF8        = "pässwörd"
	pwKratos      = "test"
	pwKratosOry   = "ory"
	pwKratosSSHA  = "test123"
	pwKratosFire  = "8x4WjoDbSxJZdR"
	pwKratosSHA1b = "BwS^514g^cv@Z"
)

var knownAnswers = []knownAnswer{
	// bcrypt
	{"bcrypt/kratos-2a-12", "$2a$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6", pwKratos, "bcrypt", srcKratos},
	{"bcrypt/htpasswd-2y-05", "$2y$05$a1tZMhm9UOE086F9Gkh9yuQep/JzwGgzrs2bDYSY14OQ2ig6yQePe", pw, "bcrypt", srcHtpasswd},
	{"bcrypt/htpasswd-2y-04-72-bytes", "$2y$04$k8RoX2U2YBWaIUPK6BgQoOmuL1UrWSzO8JTTk0S0SpxttPAEkMVqe", pw72, "bcrypt", srcHtpasswd},
	{"bcrypt/glibc-2b-04", "$2b$04$eMbKkI7tavcTQjM6SfpkTuIxcUZqXi4IIXadruvt4wa8B0WVU8dNu", pw, "bcrypt", srcGlibc},

	// argon2
	{"argon2id/kratos-m32-t2", "$argon2id$v=19$m=32,t=2,p=4$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw", pwKratos, "argon2id", srcKratos},
	{"argon2id/kratos-m32-t5", "$argon2id$v=19$m=32,t=5,p=4$cm94YnRVOW5jZzFzcVE4bQ$fBxypOL0nP/zdPE71JtAV71i487LbX3fJI5PoTN6Lp4", pwKratos, "argon2id", srcKratos},
	{"argon2i/kratos-m65536-t3", "$argon2i$v=19$m=65536,t=3,p=4$kk51rW/vxIVCYn+EG4kTSg$NyT88uraJ6im6dyha/M5jhXvpqlEdlS/9fEm7ScMb8c", pwKratos, "argon2i", srcKratos},
	{"argon2id/cli", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", pw, "argon2id", srcArgon2CLI},
	{"argon2i/cli-p2-l24", "$argon2i$v=19$m=32,t=3,p=2$YW5vdGhlcnNhbHQh$fH1t8fen5UNwJPQCrIUn9tWV+Dqz/4Su", pw, "argon2i", srcArgon2CLI},

	// pbkdf2
	{"pbkdf2-sha256/kratos", "$pbkdf2-sha256$i=100000,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI", pwKratos, "pbkdf2-sha256", srcKratos},
	{"pbkdf2-sha512/kratos", "$pbkdf2-sha512$i=100000,l=32$bdHBpn7OWOivJMVJypy2UqR0UnaD5prQXRZevj/05YU$+wArTfv1a+bNGO1iZrmEdVjhA+lL11wF4/IxpgYfPwc", pwKratos, "pbkdf2-sha512", srcKratos},
	{"pbkdf2-sha1/python", "$pbkdf2-sha1$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$mZ1fxaER8ve58Rl3fqLFRlJBSIV+GAQX6MMyCh9yTrw", pw, "pbkdf2-sha1", srcPython},
	{"pbkdf2-sha256/python", "$pbkdf2-sha256$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$P9ie5W1CBV7fO0gFVTJFaCJVtGVq/TRjtFlDXxH4lso", pw, "pbkdf2-sha256", srcPython},
	{"pbkdf2-sha512/python", "$pbkdf2-sha512$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$Ey19/jxe2FLQf/RKtEFr6sqkjKNN7ElVcyhHV4aKS0w", pw, "pbkdf2-sha512", srcPython},
	{"pbkdf2-sha224/python-sha2", "$pbkdf2-sha224$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$lU5pVJjWuSRNbC1PvP5HI5rBGp/K3x03pL3CAerhx3o", pw, "pbkdf2-sha224", srcPython},
	{"pbkdf2-sha224/python-sha3-as-kratos", "$pbkdf2-sha224$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$+PZCY8jig8CjFkNgvD39jn39Als+nO0sr1KIPcN7zdY", pw, "pbkdf2-sha224", srcPython},
	{"pbkdf2-sha384/python-sha2", "$pbkdf2-sha384$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$xKQTro9mNfVM4NKW+B+T9NbRD/wCgBGpAABvDG7gIVI", pw, "pbkdf2-sha384", srcPython},
	{"pbkdf2-sha384/python-sha3-as-kratos", "$pbkdf2-sha384$i=1000,l=32$TmFDbC1zYWx0LTE2Ynl0ZQ$KztChQIy+JxohAx3b6lC0GNJV1YmyGL9bTjQQ+rpOpI", pw, "pbkdf2-sha384", srcPython},

	// scrypt (Kratos writes N itself in ln=)
	{"scrypt/kratos", "$scrypt$ln=16384,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", pwKratos, "scrypt", srcKratos},
	{"scrypt/python", "$scrypt$ln=1024,r=8,p=1$TmFDbC1zYWx0LTE2Ynl0ZQ==$gkjuJFs/EcPBaq4PINEJDtMUKZqNDASRkiG2Vv24NBg=", pw, "scrypt", srcPython},

	// firebase scrypt
	{"firescrypt/kratos", "$firescrypt$ln=14,r=8,p=1$sPtDhWcd1MfdAw==$xbSou7FOl6mChCyzpCPIQ7tku7nsQMTFtyOZSXXd7tjBa4NtimOx7v42Gv2SfzPQu1oxM2/k4SsbOu73wlKe1A==$Bw==$YE0dO4bwD4JnJafh6lZZfkp1MtKzuKAXQcDCJNJNyeCHairWHKENOkbh3dzwaCdizzOspwr/FITUVlnOAwPKyw==", pwKratosFire, "firescrypt", srcKratos},
	{"firescrypt/python-openssl", "$firescrypt$ln=10,r=8,p=1$ZmlyZS1zYWx0$NpXnV42emD1sNBK6VbrdGyB+o5cfq2yhwIO6NCaI4h5txPDrGKQ0LdS/DIgCaUxBzLUDhTjf76WZyr0LKUWpmA==$Bw==$KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZw==", pw, "firescrypt", srcPythonSSL},

	// LDAP salted SHA
	{"ssha/kratos", "{SSHA}JFZFs0oHzxbMwkSJmYVeI8MnTDy/276a", pwKratosSSHA, "{SSHA}", srcKratos},
	{"ssha256/kratos", "{SSHA256}czO44OTV17PcF1cRxWrLZLy9xHd7CWyVYplr1rOhuMlx/7IK", pwKratosSSHA, "{SSHA256}", srcKratos},
	{"ssha512/kratos", "{SSHA512}xPUl/px+1cG55rUH4rzcwxdOIPSB2TingLpiJJumN2xyDWN4Ix1WQG3ihnvHaWUE8MYNkvMi5rf0C9NYixHsE6Yh59M=", pwKratosSSHA, "{SSHA512}", srcKratos},
	{"ssha/python", "{SSHA}w6gQbRSjA8cu3Ta7oLSOJdoCNqABAnNhbHR5/w==", pw, "{SSHA}", srcPython},
	{"ssha256/python", "{SSHA256}t1uWr3d66A/JwW+WRUPIYS0RvywDDHD4L9N6M5D5CHoBAnNhbHR5/w==", pw, "{SSHA256}", srcPython},
	{"ssha512/python", "{SSHA512}UNYf4r2mMiiCs9e9gfWZu3gt+bq2DZ4QM3u59w8mHOHXfuLrOrZzprQlZ0If4XMouaEPII0CvgZB9zkS8VGxLQECc2FsdHn/", pw, "{SSHA512}", srcPython},

	// salted SHA with a template
	{"sha1/kratos-salt-password", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", pwKratos, "sha1", srcKratos},
	{"sha1/kratos-special-chars", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$99h9net4BXl7qdTRaiGUobLROxM=", pwKratosSHA1b, "sha1", srcKratos},
	{"sha1/kratos-static-prefix", "$sha1$pf=Pz9zdGF0aWNQcmVmaXg/P3tTQUxUfXtQQVNTV09SRH0=$NW9wbWtnejAzcg==$SAAxMUn7jxckQXkBmsVF0nHwqso=", pwKratos, "sha1", srcKratos},
	{"sha1/kratos-percent", "$sha1$pf=e1BBU1NXT1JEfSUle1NBTFR9$NW9wbWtnejAzcg==$YX0AW8/MW5ojUlnzTaR43ucHCog=", pwKratos, "sha1", srcKratos},
	{"sha1/kratos-dollars", "$sha1$pf=JHtQQVNTV09SRH0ke1NBTFR9JA==$NW9wbWtnejAzcg==$iE5n1yjX3oAdxRHwZ4u57I4LpQo=", pwKratos, "sha1", srcKratos},
	{"sha256/kratos", "$sha256$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$0gfRVLCvtBCk20udLDEY5vNhujWx7RGjwRIS1ebMsLY=", pwKratos, "sha256", srcKratos},
	{"sha256/kratos-dollars", "$sha256$pf=e1NBTFR9JCR7UEFTU1dPUkR9$NW9wbWtnejAzcg==$HokCOi9OtiZaZRvnkgemV3B4UUHpI7kA8zq/EZWH2NY=", pwKratos, "sha256", srcKratos},
	{"sha512/kratos", "$sha512$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$6ctpVuApMNp0CgBXcdHw/GC562eFEFGr4gpgANX8ZYsX+j5B19IkdmOY2Fytsz3QUwSWdGcUjbqwgJGTH0UYvw==", pwKratos, "sha512", srcKratos},
	{"sha1/python", "$sha1$pf=e1NBTFR9Ojp7UEFTU1dPUkR9$cGVwcGVy$aPmiJZF0g1GUmsqBP6AK6WNB0y4=", pw, "sha1", srcPython},
	{"sha256/python", "$sha256$pf=e1NBTFR9Ojp7UEFTU1dPUkR9$cGVwcGVy$kpP5Iwq0PV8YLNhQU98O0tib/LFriXQ15WL5NqFJYrI=", pw, "sha256", srcPython},
	{"sha512/python", "$sha512$pf=e1NBTFR9Ojp7UEFTU1dPUkR9$cGVwcGVy$e87DHLiCQTX1aWl9E8P8vq1tKKt/YaQ51a5qoPk5W3YbYmyQ5QeRNexOCSmqkCENoOb9GfGL5ADuxd9JK4N8kw==", pw, "sha512", srcPython},

	// md5
	{"md5/kratos-plain", "$md5$CY9rzUYh03PK3k6DJie09g==", pwKratos, "md5", srcKratos},
	{"md5/kratos-plain-ory", "$md5$ptoWyof5SobW+pbZu2QXoQ==", pwKratosOry, "md5", srcKratos},
	{"md5/kratos-salted", "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$MTIz$q+RdKCgc+ipCAcm5ChQwlQ==", pwKratos, "md5", srcKratos},
	{"md5/kratos-salted-suffix", "$md5$pf=e1BBU1NXT1JEfXtTQUxUfSQ/$MTIzNDU2Nzg5$8PhwWanVRnpJAFK4NUjR0w==", pwKratosOry, "md5", srcKratos},
	{"md5/python-plain", "$md5$PLTnMmMfR+brlh80VUt83g==", pw, "md5", srcPython},
	{"md5/python-salted", "$md5$pf=e1BBU1NXT1JEfXtTQUxUfQ==$eHl6$BQDhnkiVEIz1xeY6C2NFGw==", pw, "md5", srcPython},

	// hmac
	{"hmac-md4/kratos", "$hmac-md4$MWQ5ZTI4Nzc2Zjg4YmE2MTQ5YjQ0OTMyOGE4NWU4YjA=$MTIzNDU=", pwKratos, "hmac-md4", srcKratos},
	{"hmac-md5/kratos", "$hmac-md5$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=$MTIzNDU=", pwKratos, "hmac-md5", srcKratos},
	{"hmac-sha1/kratos", "$hmac-sha1$NDMyNjcxZTUyY2Y2YTBmYjZjZDE2NjQxYjAwNjFiZjAwOGEzNWM5MA==$MTIzNDU=", pwKratos, "hmac-sha1", srcKratos},
	{"hmac-sha224/kratos", "$hmac-sha224$YmUwYmYzM2EwNGRlNDE0YjQzNjBhNmIyOThmNmIyYzI4OWQyMzk3MDUwZDFjMzliYjVmMDMyOTQ=$MTIzNDU=", pwKratos, "hmac-sha224", srcKratos},
	{"hmac-sha256/kratos", "$hmac-sha256$ZTAzMWJhMWMyOTM4YjFkMjgzZjkxOWExZGY5YWM2NmMxOTJhN2RkNzQ0MzJkNWZkNGFkYTI5OTk0MWJhMTA5Zg==$MTIzNDU=", pwKratos, "hmac-sha256", srcKratos},
	{"hmac-sha384/kratos", "$hmac-sha384$ZWEyMGM3NGE4Y2UzMTljNTdjZTlhZGQyYTZjNDE0MGQ4YjMwYWIwOWM4OTRiNWQ4MmZjODlhMzBhMmQzNGE5NmQ0NDY1NWRhYjQ2ZjhiYjBkNTRmYjk5YWZkZTA1MGY1$MTIzNDU=", pwKratos, "hmac-sha384", srcKratos},
	{"hmac-sha512/kratos", "$hmac-sha512$OTFmODY0ZTI1NmU0ZjVhYjhiMDViZGFmNGVmNGZmMGVlNTY4ODYwNWJhYTk4MTk2OTgyMzc3NzI1YTc4MzcxMTMzNzZmY2YxYTk5MGMxM2RiZDk2MGFmMmQ1YzRmODdlMGMwYTNkYjcyNjY0NjM4NGE4YzQ2MjNhZDZkN2UxZTE=$MTIzNDU=", pwKratos, "hmac-sha512", srcKratos},
	{"hmac-md5/python", "$hmac-md5$NjJkNWI1ZjQ5MjRiNmI5YWVlYWM2MTJmOTE4YWUxOTE=$c2VydmVyLXNlY3JldA==", pw, "hmac-md5", srcPython},
	{"hmac-sha1/python", "$hmac-sha1$NTkzYzBhMjA2OWIyZjIzMjkwNDc2Y2UyNDJlZWUwOWY0MGQ4ZjQ0Ng==$c2VydmVyLXNlY3JldA==", pw, "hmac-sha1", srcPython},
	{"hmac-sha224/python", "$hmac-sha224$NDA5MjNlYTU0YWVlNjllMDE2Y2NhNTU1NTU4NTdmMzg0NDRmNjNiZGQxZWQyNDdhYTljZWJiYzM=$c2VydmVyLXNlY3JldA==", pw, "hmac-sha224", srcPython},
	{"hmac-sha256/python", "$hmac-sha256$NDhhZWVlYTI5YTNkOGRlNDRiZWJmYWJiNjQ4YWUwMmMxOWUyOTVlOTMxMjk3OWE1MmUzNjZkZDMyOWJhMzdhNg==$c2VydmVyLXNlY3JldA==", pw, "hmac-sha256", srcPython},
	{"hmac-sha256/python-upper-hex", "$hmac-sha256$NDhBRUVFQTI5QTNEOERFNDRCRUJGQUJCNjQ4QUUwMkMxOUUyOTVFOTMxMjk3OUE1MkUzNjZERDMyOUJBMzdBNg==$c2VydmVyLXNlY3JldA==", pw, "hmac-sha256", srcPython},
	{"hmac-sha384/python", "$hmac-sha384$NjNlNmRhNWZjOTRmNTdmOGJlZTJlMDg4Y2JkMmUwZWMyMzlkMTljNzE4YThhOTFhM2RkZGRiNTI1ZTNkZjJkODA0YTY4NjFiODIwZDIzM2JjZjYzYTNjMmU0YmFhNjM1$c2VydmVyLXNlY3JldA==", pw, "hmac-sha384", srcPython},
	{"hmac-sha512/python", "$hmac-sha512$MDM4OThmZDNiZTQ0YzlkZDM2ZGFmZDU2OWZhODliODBjMjBlMjg2YWFlZjY2NDQ1MDgzMzU3ZWZiNzViZTljMDJkMjc2ZTgzYTMzMzdlNTcyYTM5NWM1NDhlMjVkYzdlYTMyY2RhZmY4YmM1NzBkY2Q1OTZhYjRiYjY0NTVhZTA=$c2VydmVyLXNlY3JldA==", pw, "hmac-sha512", srcPython},

	// crypt(3) and Kratos' names for it
	{"md5-crypt/openssl", "$1$saltsalt$NuzA7WTAelpl95xgBGWN60", pw, "md5-crypt", srcOpenSSL},
	{"md5-crypt/openssl-empty-salt", "$1$$whuMjZj.HMFoaTaZRRtkO0", pwKratos, "md5-crypt", srcOpenSSL},
	{"md5-crypt/kratos", "$md5-crypt$TVEiiKNb$SN6/pUaRQS/E8Jh46As2C/", pwKratos, "md5-crypt", srcKratos},
	{"md5-crypt/kratos-empty-salt", "$md5-crypt$$whuMjZj.HMFoaTaZRRtkO0", pwKratos, "md5-crypt", srcKratos},
	{"md5-crypt/kratos-ory", "$md5-crypt$xWMlm2eL$GGTOpgZu4p2k6ORprAu3b.", pwKratosOry, "md5-crypt", srcKratos},
	{"sha256-crypt/openssl", "$5$abcdefgh12345678$9unobV54z8E2.elrCkc7/lqq8s/w188FUsdcHCxVP19", pw, "sha256-crypt", srcOpenSSL},
	{"sha256-crypt/glibc-rounds", "$5$rounds=12000$Ns3yH0PRz/1q$U24XrJxJ9THujaEZAS9Z73SKlrqr/KQDW7pOqGGgIa7", pw, "sha256-crypt", srcGlibc},
	{"sha256-crypt/kratos", "$sha256-crypt$rounds=535000$05R.9KB6UC2kLI3w$Q/zslzx./JjkAVPTwp6th7nW5l7JU91Gte/UmIh.U78", pwKratos, "sha256-crypt", srcKratos},
	{"sha512-crypt/openssl", "$6$Zq9.Rm/2$Kk0akxtlVSFinNNXq1DubBg7KTNUPOV2nIV3mJlnjj7r3V2z2zhgL1yNRlm9Jz2UvYO3ERMYSIZ6r4kCTtW79/", pw, "sha512-crypt", srcOpenSSL},
	{"sha512-crypt/glibc-explicit-5000", "$6$rounds=5000$explicit5000$sbdP1EcnKiKtEYKGeaG1LQP2dZrRvXMzRh4Glv0o2vfDTlKuDyMK/g.vtrjUjHZy6vAWNQT3T9LxNDxqnL0/71", pw, "sha512-crypt", srcGlibc},
	{"sha512-crypt/glibc-utf8", "$6$utf8salt$Nf6juS0Q3mv0f53eB4BVd6Njt8ABkI/Nw9Yqy9ZA65U6sGRcr2ajrL8Kwlq2SfdEvHi3Rhn/AVzWRrTM5gRn80", pwUTF8, "sha512-crypt", srcGlibc},
	{"sha512-crypt/kratos", "$sha512-crypt$rounds=656000$3LVbIAVxR//cRajw$uuNasMW.RYxlGzIRFU1Was70BPSa933AjxhZIGJdJBOlqJAHlgqa0yuiuq5JHF/ryNGryJkj87G9i3G2HPSXg1", pwKratos, "sha512-crypt", srcKratos},
}
