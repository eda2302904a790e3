#!/usr/bin/env bash
# Compiles and lints the Bicep template with the official Bicep CLI; fails on any error or warning.
#
#   bash scripts/infra-check.sh [TEMPLATE]     (default: infra/main.bicep)
#
# The ARM JSON goes to <template dir>/build/<template name>.json (infra/build/main.json by default).
# Every parameter file <name>.bicepparam next to the template that is `using` it is one deployment
# shape (infra/: main = the default, private = private networking); each is compiled with
# `bicep build-params` against the template to <template dir>/build/<name>.parameters.json and linted.
# The CLI used is, in this order: $BICEP_CLI, `bicep` on PATH, or the pinned version from the NuGet
# package Azure.Bicep.CommandLine.<rid>, restored once with `dotnet restore` into infra/.bicep-cli/.
# Linter levels come from the bicepconfig.json next to the template (infra/bicepconfig.json raises the
# rules to "error"); the output is also searched for "Warning"/"Error" so that compiler warnings
# (BCPxxx, which no config can raise) fail the check as well.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
template="${1:-$repo_root/infra/main.bicep}"

if [[ ! -f "$template" ]]; then
  echo "infra-check: template not found: $template" >&2
  exit 2
fi
template_dir="$(cd "$(dirname "$template")" && pwd)"
template_name="$(basename "$template" .bicep)"
template="$template_dir/$template_name.bicep"
out_dir="$template_dir/build"
out_file="$out_dir/$template_name.json"

log() { echo "infra-check: $*" >&2; }

# ---------- locate or restore the Bicep CLI ----------
cli_project="$repo_root/infra/tools/bicep-cli.csproj"
cli_root="$repo_root/infra/.bicep-cli"

rid() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=osx ;;
    *) log "unsupported OS $(uname -s); put bicep on PATH or set BICEP_CLI"; exit 2 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "unsupported CPU $(uname -m); put bicep on PATH or set BICEP_CLI"; exit 2 ;;
  esac
  echo "$os-$arch"
}

restore_cli() {
  local version package tfm sdk_major target
  version="$(sed -n 's:.*<BicepCliVersion[^>]*>\([^<]*\)</BicepCliVersion>.*:\1:p' "$cli_project")"
  package="Azure.Bicep.CommandLine.$(rid)"
  target="$cli_root/packages/$(echo "$package" | tr '[:upper:]' '[:lower:]')/$version/tools/bicep"
  if [[ -x "$target" ]]; then
    echo "$target"
    return
  fi
  if ! command -v dotnet > /dev/null; then
    log "no bicep on PATH and no dotnet to restore $package $version"
    exit 2
  fi
  mkdir -p "$cli_root"
  # One restore at a time (parallel test workers may call this script together).
  exec 9> "$cli_root/.lock"
  flock 9
  if [[ ! -x "$target" ]]; then
    if [[ -f "$target" ]]; then
      chmod +x "$target"
    else
      sdk_major="$(dotnet --version | cut -d. -f1)"
      tfm="net${sdk_major}.0"
      log "restoring $package $version from NuGet ($tfm)"
      # Restore from a copy of the project so that obj/ lands in the ignored folder too.
      mkdir -p "$cli_root/restore"
      cp "$cli_project" "$cli_root/restore/bicep-cli.csproj"
      DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
        dotnet restore "$cli_root/restore/bicep-cli.csproj" \
        --packages "$cli_root/packages" \
        -p:TargetFramework="$tfm" -p:BicepCliPackage="$package" -p:BicepCliVersion="$version" \
        --verbosity quiet >&2
      chmod +x "$target"
    fi
  fi
  flock -u 9
  echo "$target"
}

if [[ -n "${BICEP_CLI:-}" ]]; then
  bicep="$BICEP_CLI"
elif command -v bicep > /dev/null; then
  bicep="$(command -v bicep)"
else
  bicep="$(restore_cli)"
fi
log "using $("$bicep" --version) ($bicep)"

# ---------- build and lint ----------
# Both run at once (each is a separate compilation); their diagnostics are printed one after the other.
# A step fails on a non-zero exit code or on any diagnostic of level Warning or Error (bicep exits 0
# when it has warnings only).
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$out_dir"
rm -f "$out_file"
(
  rc=0
  "$bicep" build "$template" --outfile "$out_file" > "$scratch/build.out" 2>&1 || rc=$?
  echo "$rc" > "$scratch/build.rc"
) &
(
  rc=0
  "$bicep" lint "$template" > "$scratch/lint.out" 2>&1 || rc=$?
  echo "$rc" > "$scratch/lint.rc"
) &
wait

failed=0
# Prints a step's output and records whether it failed: a non-zero exit code, or any diagnostic of
# level Warning or Error in its output.
report() {
  local label="$1" rc="$2" output="$3"
  if [[ -s "$output" ]]; then
    cat "$output" >&2
  fi
  if [[ "$rc" -ne 0 ]]; then
    log "bicep $label failed (exit code $rc)"
    failed=1
  elif grep -Eq ' : (Warning|Error) ' "$output"; then
    log "bicep $label reported warnings"
    failed=1
  else
    log "bicep $label ok"
  fi
}

for step in build lint; do
  report "$step" "$(cat "$scratch/$step.rc")" "$scratch/$step.out"
done

# ---------- parameter files (deployment shapes) ----------
shapes=()
for param_file in "$template_dir"/*.bicepparam; do
  [[ -e "$param_file" ]] || continue
  grep -Eq "^using +'(\./)?$template_name\.bicep'" "$param_file" || continue
  shapes+=("$param_file")
done
for param_file in "${shapes[@]}"; do
  shape="$(basename "$param_file" .bicepparam)"
  shape_out="$out_dir/$shape.parameters.json"
  rm -f "$shape_out"
  for step in build-params lint; do
    rc=0
    if [[ "$step" == build-params ]]; then
      "$bicep" build-params "$param_file" --outfile "$shape_out" > "$scratch/$shape.$step.out" 2>&1 || rc=$?
    else
      "$bicep" lint "$param_file" > "$scratch/$shape.$step.out" 2>&1 || rc=$?
    fi
    report "$step $shape" "$rc" "$scratch/$shape.$step.out"
  done
done

if [[ $failed -ne 0 ]]; then
  rm -f "$out_file"
  log "FAILED: $template"
  exit 1
fi
log "passed: $template -> $out_file (shapes: ${#shapes[@]})"
