# Latchkey container image: a CGO-off static binary built in the Go image,
# shipped FROM scratch as a non-root user (uid 65532).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t latchkey .
#   docker run -p 4433:4433 -v /etc/latchkey:/etc/latchkey:ro latchkey
#
# The image holds only the binary, CA certificates (for SMTP, OIDC and web
# hooks over TLS) and an empty, writable /tmp and /var/lib/latchkey (for an
# SQLite database). Mount the config at /etc/latchkey/latchkey.yml or set
# LATCHKEY_* variables. docs/deploy.md has the full picture.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# The test TestDockerfileBuildsStaticBinary runs this exact command.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/latchkey ./cmd/latchkey
RUN mkdir -p /out/tmp /out/data && chmod 1777 /out/tmp && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build /out/data /var/lib/latchkey
COPY --from=build /out/latchkey /usr/local/bin/latchkey
USER 65532:65532
WORKDIR /var/lib/latchkey
EXPOSE 4433 4434
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve", "--config", "/etc/latchkey/latchkey.yml"]
