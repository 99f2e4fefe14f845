// Package mysql is Latchkey's MySQL and MariaDB storage backend:
// store.Store through go-sql-driver/mysql on one connection pool. It needs
// MySQL 8 or MariaDB 10.6 or later (FOR UPDATE SKIP LOCKED).
package mysql
