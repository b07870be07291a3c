# hogport: one image for every stage. Run a stage as the container's command, for example
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" -w /work hogport run pipelines/demo.yaml
# (--user makes a bind-mounted folder, and a local store in it, writable as the host user; a named
# volume mounted at /work starts owned by the image's user, node). TypeScript mapping modules run
# as they are: the compiler is a runtime dependency of the files source, kept by the prune.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
COPY pipelines ./pipelines
RUN ln -s /app/packages/cli/bin/hogport.js /usr/local/bin/hogport && chmod +x /app/packages/cli/bin/hogport.js \
  && mkdir -p /work && chown node:node /work
USER node
WORKDIR /work
ENTRYPOINT ["hogport"]
CMD ["--help"]
