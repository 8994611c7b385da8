# The eventail image (CONTRACT §13): `docker build -t eventail:dev .`; config/ runs it as
# `eventail controller`. Multi-stage: the build stage compiles with the dev dependencies, the
# final stage carries only the built code, production dependencies and crds/ (read at start).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts wait until the sources are in (prepare compiles them).
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/crds ./crds
# The image's unprivileged "node" user (uid 1000), as config/deployment.yaml's runAsUser.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["controller"]
