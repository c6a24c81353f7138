# mfkv serve as a container: Cloud Run, Vertex AI custom containers, any
# Docker host.  README.md, "Deploying as the reference endpoint", has the
# gcloud commands.
#
#   docker build -t mfkv .
#   docker run -p 8080:8080 -e PORT=8080 -v $PWD/models:/models/recommender_model:ro mfkv
#
# The store is mounted (or baked in by a derived image) as numbered versions
# /models/recommender_model/N.mfkv; see `mfkv serve --help`, --model-base-path.

# Build with the project's own setup, as on any Debian 12 machine.
FROM debian:12-slim AS build
WORKDIR /src
COPY . .
RUN ./tools/setup.sh \
 && tools/zig build -Doptimize=ReleaseFast \
 && tools/runtime-files.sh /runtime zig-out/bin/mfkv

# Only the binary, its shared libraries and the loader (tools/runtime-files.sh).
FROM scratch
COPY --from=build /runtime /
USER 10001:10001
ENV PORT=8080
EXPOSE 8080
# $PORT (Cloud Run) or $AIP_HTTP_PORT (Vertex AI) sets the port and 0.0.0.0;
# $AIP_PREDICT_ROUTE and $AIP_HEALTH_ROUTE add Vertex AI's paths.  SIGTERM
# drains in-flight requests within --shutdown-grace (5 s, under Cloud Run's 10).
ENTRYPOINT ["/usr/local/bin/mfkv", "serve"]
CMD ["--model-base-path", "/models/recommender_model"]
