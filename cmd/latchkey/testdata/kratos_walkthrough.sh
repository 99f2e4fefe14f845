# First login in a few commands: the Kratos face's native flows with curl and
# jq against `latchkey serve --dev` (kratos_e2e_test.go runs this file).

# 1. Start a native registration flow and keep its id.
flow=$(curl -s http://127.0.0.1:4433/self-service/registration/api | jq -r .id)

# 2. Register with an e-mail address and a password. Latchkey logs the new
#    account in at once: the answer carries a session token.
token=$(curl -s -X POST "http://127.0.0.1:4433/self-service/registration?flow=$flow" \
  -H 'Content-Type: application/json' \
  -d '{"method":"password","traits":{"email":"ada@example.com","name":"Ada"},"password":"correct horse battery staple"}' |
  jq -r .session_token)

# 3. Ask who is logged in (X-Session-Token or Authorization: Bearer).
curl -s http://127.0.0.1:4433/sessions/whoami -H "X-Session-Token: $token" | jq -r .identity.traits.email

# 4. Log in again through a native login flow.
flow=$(curl -s http://127.0.0.1:4433/self-service/login/api | jq -r .id)
token=$(curl -s -X POST "http://127.0.0.1:4433/self-service/login?flow=$flow" \
  -H 'Content-Type: application/json' \
  -d '{"method":"password","identifier":"ada@example.com","password":"correct horse battery staple"}' |
  jq -r .session_token)

# 5. The new session works too.
curl -s http://127.0.0.1:4433/sessions/whoami -H "Authorization: Bearer $token" | jq -r .active
