# meshfed's container image: the compiled npm package (exactly what `npm pack` publishes) and its
# production dependencies on Node 24 slim, run as a non-root user, with one `meshfed` entrypoint for
# every component: `meshfed controlplane …`, `meshfed gateway …`, `meshfed sidecar …`.
#   docker build -t meshfed:0.1.0 .        (kind-configs/setup.sh builds and kind-loads it)

FROM node:24-slim AS build
# node-gyp's needs, for the SO_ORIGINAL_DST addon (native/original-dst) that transparent capture uses.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json LICENSE README.md ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
# `npm pack` builds (prepack: src/ → dist/) and packs the files package.json lists; the package is
# unpacked into /opt/meshfed and gets its production dependencies from the same lock file.
RUN npm pack --silent --pack-destination /tmp \
 && mkdir -p /opt/meshfed \
 && tar -xzf /tmp/meshfed-*.tgz -C /opt/meshfed --strip-components=1 \
 && cp package-lock.json /opt/meshfed/ \
 && cd /opt/meshfed \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node scripts/build-native.mjs \
 && rm -rf native/original-dst/build/Release/obj.target native/original-dst/build/Release/.deps

FROM node:24-slim AS runtime
ENV NODE_ENV=production
# iptables-restore for `meshfed capture-init`, the injected init container (it runs as root).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/meshfed /opt/meshfed
RUN ln -s /opt/meshfed/bin/meshfed.js /usr/local/bin/meshfed
# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
WORKDIR /home/node
ENTRYPOINT ["meshfed"]
CMD ["--help"]
