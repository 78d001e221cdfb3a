# Scores a VCF in shards with `seq2track score-variants --shard i/N`, then joins them with
# `seq2track merge` into the file the unsharded run would write (same bytes).
#
#   snakemake -s workflows/score-variants.smk --cores 4 --configfile workflows/score-variants.yaml
#
# Config (see score-variants.yaml): model, genome, vcf, out (X.tsv), shards; optional args (extra
# score-variants options, e.g. "--tracks 0-9 --rc"), seq2track (the command; default "npx seq2track")
# and threads (ONNX Runtime threads per shard job).

SEQ2TRACK = config.get("seq2track", "npx seq2track")
SHARDS = int(config["shards"])
OUT = config["out"]
PREFIX = OUT[:-4] if OUT.endswith(".tsv") else OUT
ARGS = config.get("args", "")
THREADS = int(config.get("threads", 1))
MODELS = " ".join(f"--model {m}" for m in ([config["model"]] if isinstance(config["model"], str) else config["model"]))


rule all:
    input:
        OUT,


rule shard:
    output:
        PREFIX + ".shard{i}-of-" + str(SHARDS) + ".tsv",
    threads: THREADS
    shell:
        SEQ2TRACK + " score-variants " + MODELS + " --genome {config[genome]} --vcf {config[vcf]}"
        " --shard {wildcards.i}/" + str(SHARDS) + " --threads {threads} " + ARGS + " --out {output}"


rule merge:
    input:
        expand(PREFIX + ".shard{i}-of-" + str(SHARDS) + ".tsv", i=range(1, SHARDS + 1)),
    output:
        OUT,
    shell:
        SEQ2TRACK + " merge {output} {input}"
