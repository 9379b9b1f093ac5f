"""Stage 2: download the filtered videos with yt-dlp (or take local files), validated and logged."""
