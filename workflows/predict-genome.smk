# Predicts a genome (or the regions of a BED file) in shards with `seq2track predict --genome --shard i/N`,
# one job per shard, then writes the tracks with `seq2track merge`: the same bytes as one unsharded
# `predict` run (one bigWig per track, or one bedGraph).
#
#   snakemake -s workflows/predict-genome.smk --cores 4 --configfile workflows/predict-genome.yaml
#   snakemake -s workflows/predict-genome.smk --configfile my.yaml --executor slurm --jobs 100   # a cluster (docs/predict.md)
#
# Shards are cut on the one run's window grid (every region planned and tiled as one run does, then a
# contiguous block of whole model batches of its windows per shard), so a shard boundary may fall
# inside a chromosome and every bin is still predicted by the same window and ensemble as in one run.
#
# Config (see predict-genome.yaml): model (a directory or published name, or a list: replicates
# averaged), genome, out (DIR/ for one bigWig per track, or X.bedGraph; X.tsv and X.safetensors work
# too), shards; optional bed (the regions; without it every sequence of the genome's .fai, whole,
# those matching the regex `chroms` if given), args (extra predict options, e.g. "--tracks 0-9 --rc"),
# seq2track (the command; default "npx seq2track"), threads (per shard job), keep_shards (default:
# the shard files are deleted once merged), and resources: {shard: {...}, merge: {...}} (mem_mb,
# runtime in minutes, and any other resource your executor reads), per job.

SEQ2TRACK = config.get("seq2track", "npx seq2track")
SHARDS = int(config["shards"])
OUT = str(config["out"])
# A name ending in / is a directory of bigWigs, as for `predict --out`.
BIGWIG = OUT.endswith("/")
BASE = OUT.rstrip("/")
ARGS = config.get("args", "")
THREADS = int(config.get("threads", 1))
MODELS = " ".join(f"--model {m}" for m in ([config["model"]] if isinstance(config["model"], str) else config["model"]))
BED = config.get("bed") or BASE + ".regions.bed"
RESOURCES = config.get("resources") or {}
# `predict --shard i/N --out OUT` writes this file (src/tasks/predict/genome-shards.ts shardPath).
SHARD = BASE + ".shard{i}-of-" + str(SHARDS) + ".safetensors"
shard_file = (lambda f: f) if config.get("keep_shards", False) else temp

wildcard_constraints:
    i=r"\d+",


rule all:
    input:
        BASE,


if not config.get("bed"):

    # Whole sequences from the genome's .fai (FASTA or bgzipped FASTA); for a .2bit genome give a
    # BED instead (twoBitInfo G.2bit stdout | awk -v OFS='\t' '{print $1, 0, $2}' > G.bed).
    rule regions:
        input:
            config["genome"] + ".fai",
        output:
            BED,
        params:
            chroms=config.get("chroms", ""),
        shell:
            "awk -v OFS='\\t' -v re='{params.chroms}' '$1 ~ re {{print $1, 0, $2}}' {input} > {output}"


rule shard:
    input:
        bed=BED,
    output:
        shard_file(SHARD),
    threads: THREADS
    resources:
        **RESOURCES.get("shard", {}),
    shell:
        SEQ2TRACK + " predict " + MODELS + " --genome {config[genome]} --bed {input.bed} --out " + OUT +
        " --shard {wildcards.i}/" + str(SHARDS) + " --threads {threads} " + ARGS


rule merge:
    input:
        expand(SHARD, i=range(1, SHARDS + 1)),
    output:
        directory(BASE) if BIGWIG else BASE,
    resources:
        **RESOURCES.get("merge", {}),
    shell:
        SEQ2TRACK + " merge " + OUT + " {input}"
