// Package pwned asks Have I Been Pwned's Pwned Passwords range API how many
// known data breaches contain a password, by k-anonymity: only the first
// five hex digits of the password's SHA-1 leave the server
// (https://haveibeenpwned.com/API/v3#SearchingPwnedPasswordsByRange), and
// the suffixes of the answer are compared here. It is the
// password.BreachCounter behind Kratos'
// selfservice.methods.password.config.haveibeenpwned_* settings.
package pwned
