# %% [markdown]
# # acav from Python
#
# The same pipeline as `bash ./run.sh --demo`, driven from Python (a script or a notebook: each
# `# %%` block is a cell). Every function takes the data directory and the stage's options under
# the CLI flag names (`--clips-per-shard 64` is `clips_per_shard=64`); `help(acav.cluster_features)`
# lists them. Run it: `python examples/api_example.py [DATA_DIR]` (default: data/api_demo).

# %%
import sys
from pathlib import Path

import acav

data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data/api_demo")

# %% [markdown]
# A small offline demo: synthetic videos whose sound matches the picture in half of them.

# %%
demo = acav.generate_demo(data, num_videos=6, num_classes=3, min_duration=32, max_duration=36)
print(demo.summary())

# %% [markdown]
# All six stages and the report. Options per stage go in a dict named after the stage; the demo
# takes its videos from disk instead of YouTube and uses the weight-free feature extractors.

# %%
result = acav.run_pipeline(
    data,
    video_download={"source_dir": data / "source_videos"},
    clip_segmentation={"clips_per_shard": 64, "workers": 1},
    feature_extraction={
        "visual_extractor": "basic_visual",
        "audio_extractor": "basic_audio",
        "workers": 1,
    },
    clustering={"ncentroids": 10},
)
for stage in result.stages:
    print(f"{stage.stage}: {stage.seconds:.1f} s")

# %% [markdown]
# Each stage's summary is an object; the report's funnel counts what every stage kept.

# %%
kept = result["metadata_filtering"].result
print(f"filter: kept {kept['kept']} of {kept['total_lines']} metadata lines")
selection = result["subset_selection"].result
print(f"selection: {selection['selected']} of {selection['clips']} clips -> {selection['output']}")
print(f"report: {result.report.path}")
print("funnel: " + ", ".join(f"{k}={v}" for k, v in result.report.funnel.items()))

# %% [markdown]
# One stage again with other options: a larger selection, written beside the first one.

# %%
half = acav.select_subset(
    data, ratio=0.5, output=data / "output_half.csv", selection_log=data / "half.log.json"
)
print(f"ratio 0.5: {half.result['selected']} clips -> {half.result['output']}")
