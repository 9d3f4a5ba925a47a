# corscheck with everything its fixtures need (nginx, Node.js for Express).
# Used by docker-compose.yml; the browser comes from the chromedp/headless-shell
# service, reached with --browser-url. The webkit stage adds WebKitGTK's
# WebDriver and Xvfb: corscheck starts WebKit inside that container.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /corscheck ./cmd/corscheck

# WebKit (the engine of Safari) as Debian ships it: corscheck starts Xvfb,
# WebKitWebDriver and the browser as its own children (--browser webkit).
FROM debian:bookworm-slim AS webkit
RUN apt-get update \
 && apt-get install -y --no-install-recommends webkit2gtk-driver xvfb xauth ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /corscheck /usr/local/bin/corscheck
COPY fixtures/policies/ /policies/
ENTRYPOINT ["corscheck"]

# The default image (the last stage): corscheck and the fixtures' servers.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /corscheck /usr/local/bin/corscheck
# Install the Express fixture's locked dependencies at build time, where the
# fixture looks for them ($HOME/.cache/corscheck/express).
COPY fixtures/express/ /root/.cache/corscheck/express/
RUN cd /root/.cache/corscheck/express && npm ci --silent --no-audit --no-fund
COPY fixtures/policies/ /policies/
ENTRYPOINT ["corscheck"]
