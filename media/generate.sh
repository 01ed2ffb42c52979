#!/usr/bin/env bash
# Rebuild the recorded exercises and films under media/ from their written scripts.
#
#   bash media/generate.sh              rebuild everything
#   bash media/generate.sh body-scan    rebuild only the named media ids
#
# Needs (Debian/Ubuntu packages):  espeak-ng  ffmpeg  fonts-dejavu-core
#   apt-get install -y espeak-ng ffmpeg fonts-dejavu-core
#
# It can be run from any directory and as often as you like: every generated file
# is overwritten from its source, nothing else is touched.
#
# Sources (edit these, never the generated files):
#
#   Audio exercise   <id>/<lang>.script.txt
#       "# Title"        first line: the transcript's heading (not spoken)
#       a line of text   spoken, followed by a short breath of silence
#       "[paus 5]"       5 seconds of silence; shown as "(paus)" in the transcript
#                        (write "[pause 5]" in English and it shows as "(pause)")
#       an empty line    starts a new paragraph in the transcript
#   -> <lang>.mp3 (mono, 16000 Hz, variable bit rate: speech at about 30 kbit/s,
#      the long pauses nearly free, so the files are small enough to commit) and <lang>.transcript.md, for every language that has a script
#
#   Film             <id>/<lang>.slides.txt
#       slides are separated by empty lines; inside a slide
#       "> text"         a line shown on the slide (first one bold; 1-3 lines,
#                        first at most 28 characters, the others at most 34)
#       a line of text   one narration sentence = one caption cue
#       "# ..."          a comment, ignored
#   -> <lang>.mp4 (640x360 H.264 + AAC), <lang>.vtt, <lang>.transcript.md,
#      and poster.png (the title slide, with the Swedish and English titles)
#
# The caption times are taken from the measured length of every spoken sentence,
# so the captions follow the voice exactly.
set -euo pipefail
export LC_ALL=C.UTF-8   # count characters, not bytes

MEDIA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$MEDIA_DIR"

AUDIO_IDS=(breathing-anchor body-scan relaxation relaxation-short mindfulness mindfulness-short
           listen-pain-physiology-1 listen-pain-physiology-2 listen-pain-physiology-3
           listen-pain-physiology-4 listen-pain-physiology-5 listen-pain-physiology-6)
FILM_IDS=(what-is-pain what-is-act)

RATE=140                 # espeak-ng words per minute: calm
PITCH=45
SAMPLE_RATE=22050
AUDIO_SAMPLE_RATE=16000  # the exercises and "listen to this page" recordings
AUDIO_QUALITY=7         # LAME VBR quality (0 best, 9 smallest)
FONT_DIR=/usr/share/fonts/truetype/dejavu
FONT_BOLD="$FONT_DIR/DejaVuSans-Bold.ttf"
FONT_REGULAR="$FONT_DIR/DejaVuSans.ttf"
SLIDE_BG=0x0b5563
SLIDE_ACCENT=0x5eead4
# Film timing, in seconds: silence before the first sentence of a slide, between
# sentences, and after the last sentence of a slide.
LEAD=0.5
GAP=0.45
TAIL=1.0

for tool in espeak-ng ffmpeg ffprobe awk; do
    command -v "$tool" >/dev/null || { echo "generate.sh: '$tool' is missing (apt-get install espeak-ng ffmpeg fonts-dejavu-core)" >&2; exit 1; }
done
for font in "$FONT_BOLD" "$FONT_REGULAR"; do
    [[ -f "$font" ]] || { echo "generate.sh: font $font is missing (apt-get install fonts-dejavu-core)" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lotsa-media.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

FFMPEG=(ffmpeg -nostdin -hide_banner -loglevel error -y)

voice_for() {             # language code -> espeak-ng voice
    case "$1" in
        sv) echo sv ;;
        en) echo en ;;
        *) echo "generate.sh: no voice for language '$1'" >&2; exit 1 ;;
    esac
}

duration() {              # seconds, as measured by ffprobe
    ffprobe -v error -show_entries format=duration -of default=noprint_wrappers=1:nokey=1 "$1"
}

silence() {               # silence <seconds> <out.wav>
    "${FFMPEG[@]}" -f lavfi -i "anullsrc=r=$SAMPLE_RATE:cl=mono" -t "$1" -c:a pcm_s16le "$2"
}

speak() {                 # speak <lang> <text> <out.wav>   (plain text, not SSML)
    printf '%s\n' "$2" | espeak-ng -v "$(voice_for "$1")" -s "$RATE" -p "$PITCH" --stdin -w "$WORK/espeak.wav"
    # espeak-ng leaves a little silence at both ends; trim it so timings are exact.
    "${FFMPEG[@]}" -i "$WORK/espeak.wav" \
        -af "silenceremove=start_periods=1:start_threshold=-70dB,areverse,silenceremove=start_periods=1:start_threshold=-70dB,areverse" \
        -ar "$SAMPLE_RATE" -ac 1 -c:a pcm_s16le "$3"
}

vtt_time() {              # seconds -> HH:MM:SS.mmm
    awk -v t="$1" 'BEGIN { ms = int(t * 1000 + 0.5); printf "%02d:%02d:%02d.%03d", int(ms / 3600000), int(ms / 60000) % 60, int(ms / 1000) % 60, ms % 1000 }'
}

add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

# ---------------------------------------------------------------- audio exercises

build_audio() {           # build_audio <id> <lang>
    local id="$1" lang="$2" script="$1/$2.script.txt"
    [[ -f "$script" ]] || { echo "generate.sh: $script is missing" >&2; exit 1; }
    echo "audio  $id/$lang.mp3"

    # The script as SSML for espeak-ng -m: every line is followed by a short
    # pause, "[paus N]" becomes a break of N seconds.
    awk '
        BEGIN { print "<speak>" }
        NR == 1 && /^# / { next }
        /^[[:space:]]*$/ { next }
        /^\[(paus|pause) [0-9.]+\]$/ { gsub(/[^0-9.]/, ""); printf "<break time=\"%dms\"/>\n", $0 * 1000; next }
        { gsub(/&/, "\\&amp;"); gsub(/</, "\\&lt;"); gsub(/>/, "\\&gt;"); print $0 " <break time=\"900ms\"/>" }
        END { print "</speak>" }
    ' "$script" > "$WORK/$id-$lang.ssml"
    espeak-ng -v "$(voice_for "$lang")" -s "$RATE" -p "$PITCH" -m -f "$WORK/$id-$lang.ssml" -w "$WORK/$id-$lang.wav"

    # One second of quiet at the start, two at the end; a small mono MP3.
    "${FFMPEG[@]}" -i "$WORK/$id-$lang.wav" -af "adelay=1000,apad=pad_dur=2" \
        -ar "$AUDIO_SAMPLE_RATE" -ac 1 -c:a libmp3lame -q:a "$AUDIO_QUALITY" \
        -map_metadata -1 -fflags +bitexact -flags:a +bitexact "$id/$lang.mp3"

    # The transcript: the spoken text as Markdown, pauses as "(paus)".
    awk '
        function flush() { if (para != "") { print para; print ""; para = "" } }
        NR == 1 && /^# / { print; print ""; next }
        /^[[:space:]]*$/ { flush(); next }
        /^\[(paus|pause) [0-9.]+\]$/ { flush(); word = $0; sub(/^\[/, "", word); sub(/ .*/, "", word); print "*(" word ")*"; print ""; next }
        { para = (para == "" ? $0 : para " " $0) }
        END { flush() }
    ' "$script" | sed -e '${/^$/d;}' > "$id/$lang.transcript.md"
}

# ---------------------------------------------------------------- films

draw_slide() {            # draw_slide <out.png> <line>...   (1-3 lines)
    local out="$1"; shift
    local n=$# i=0 filters y line size font limit
    (( n >= 1 && n <= 3 )) || { echo "generate.sh: a slide needs 1-3 '>' lines, not $n" >&2; exit 1; }
    # Total height: 52 px for the first line, 42 px for each of the others.
    y=$(( (360 - (52 + 42 * (n - 1))) / 2 ))
    filters="drawbox=x=0:y=0:w=10:h=ih:color=$SLIDE_ACCENT:t=fill"
    for line in "$@"; do
        if (( i == 0 )); then size=30 font="$FONT_BOLD" limit=28; else size=25 font="$FONT_REGULAR" limit=34; fi
        if (( ${#line} > limit )); then
            echo "generate.sh: slide line too long (${#line} > $limit characters): $line" >&2; exit 1
        fi
        printf '%s' "$line" > "$WORK/slide-line-$i.txt"
        filters+=",drawtext=fontfile=$font:textfile=$WORK/slide-line-$i.txt:expansion=none"
        filters+=":fontsize=$size:fontcolor=white:x=(w-text_w)/2:y=$y"
        if (( i == 0 )); then y=$(( y + 52 )); else y=$(( y + 42 )); fi
        i=$(( i + 1 ))
    done
    "${FFMPEG[@]}" -f lavfi -i "color=c=$SLIDE_BG:s=640x360" -vf "$filters" -frames:v 1 \
        -fflags +bitexact -flags:v +bitexact "$out"
}

build_film() {            # build_film <id> <lang>
    local id="$1" lang="$2" slides="$1/$2.slides.txt"
    [[ -f "$slides" ]] || { echo "generate.sh: $slides is missing" >&2; exit 1; }
    echo "film   $id/$lang.mp4"
    local dir="$WORK/$id-$lang"
    mkdir -p "$dir"

    # Split the source into one folder per slide: screen.txt and narration.txt.
    awk -v dir="$dir" '
        function next_slide() { if (open) { n++; open = 0 } }
        BEGIN { n = 1 }
        /^#/ { next }
        /^[[:space:]]*$/ { next_slide(); next }
        {
            open = 1
            file = sprintf("%s/slide%02d.%s", dir, n, (/^> / ? "screen" : "narration"))
            line = $0; sub(/^> /, "", line)
            print line >> file; close(file)
        }
    ' "$slides"

    silence "$LEAD" "$dir/lead.wav"
    silence "$GAP" "$dir/gap.wav"
    silence "$TAIL" "$dir/tail.wav"

    local t=0 slide_start k=0 title="" d cue_start cue_end
    local -a screen
    : > "$dir/audio.txt"
    : > "$dir/video.txt"
    printf 'WEBVTT\n' > "$dir/captions.vtt"
    : > "$dir/transcript.md"

    for screen_file in "$dir"/slide*.screen; do
        local base="${screen_file%.screen}"
        local narration="$base.narration"
        [[ -f "$narration" ]] || { echo "generate.sh: $slides: a slide has no narration" >&2; exit 1; }
        mapfile -t screen < "$screen_file"
        [[ -n "$title" ]] || title="${screen[0]}"
        draw_slide "$base.png" "${screen[@]}"

        slide_start="$t"
        printf "file '%s'\n" "lead.wav" >> "$dir/audio.txt"
        t=$(add "$t" "$(duration "$dir/lead.wav")")
        local first=1 para=""
        while IFS= read -r sentence; do
            [[ -n "$sentence" ]] || continue
            k=$(( k + 1 ))
            if (( ! first )); then
                printf "file '%s'\n" "gap.wav" >> "$dir/audio.txt"
                t=$(add "$t" "$(duration "$dir/gap.wav")")
            fi
            first=0
            speak "$lang" "$sentence" "$dir/say$(printf %03d "$k").wav"
            d="$(duration "$dir/say$(printf %03d "$k").wav")"
            cue_start="$t"; cue_end=$(add "$t" "$d")
            printf "file '%s'\n" "say$(printf %03d "$k").wav" >> "$dir/audio.txt"
            printf '\n%d\n%s --> %s\n%s\n' "$k" "$(vtt_time "$cue_start")" "$(vtt_time "$cue_end")" "$sentence" >> "$dir/captions.vtt"
            para="${para:+$para }$sentence"
            t="$cue_end"
        done < "$narration"
        printf "file '%s'\n" "tail.wav" >> "$dir/audio.txt"
        t=$(add "$t" "$(duration "$dir/tail.wav")")
        printf "file '%s'\nduration %s\n" "$(basename "$base.png")" "$(add "$t" "-$slide_start")" >> "$dir/video.txt"
        printf '%s\n\n' "$para" >> "$dir/transcript.md"
        last_png="$(basename "$base.png")"
    done
    # The concat demuxer needs the last picture once more to keep its duration.
    printf "file '%s'\n" "$last_png" >> "$dir/video.txt"

    "${FFMPEG[@]}" -f concat -safe 0 -i "$dir/audio.txt" -c:a pcm_s16le "$dir/narration.wav"
    local total; total="$(duration "$dir/narration.wav")"

    "${FFMPEG[@]}" -f concat -safe 0 -i "$dir/video.txt" -i "$dir/narration.wav" \
        -map 0:v -map 1:a -t "$total" \
        -vf "fps=25,format=yuv420p" -c:v libx264 -preset slow -tune stillimage -crf 30 -g 50 \
        -c:a aac -b:a 64k -ar "$SAMPLE_RATE" -ac 1 \
        -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
        -movflags +faststart "$id/$lang.mp4"

    cp "$dir/captions.vtt" "$id/$lang.vtt"
    { printf '# %s\n\n' "$title"; sed -e '${/^$/d;}' "$dir/transcript.md"; } > "$id/$lang.transcript.md"
    printf '%s' "$title" > "$WORK/$id-$lang.title"
}

build_poster() {          # build_poster <id>: the title slide, with the title in every language
    local id="$1" lang titles=()
    echo "poster $id/poster.png"
    for lang in sv en; do titles+=("$(cat "$WORK/$id-$lang.title")"); done
    draw_slide "$id/poster.png" "${titles[@]}"
}

# ---------------------------------------------------------------- main

wanted=("$@")
selected() {
    (( ${#wanted[@]} == 0 )) && return 0
    local w; for w in "${wanted[@]}"; do [[ "$w" == "$1" ]] && return 0; done
    return 1
}
for w in "${wanted[@]}"; do
    [[ " ${AUDIO_IDS[*]} ${FILM_IDS[*]} " == *" $w "* ]] || { echo "generate.sh: unknown media id '$w'" >&2; exit 1; }
done

for id in "${AUDIO_IDS[@]}"; do
    selected "$id" || continue
    # Every language with a script; a recording made by a person replaces
    # <lang>.mp3 once its script is removed (keep the transcript).
    for script in "$id"/*.script.txt; do
        [[ -f "$script" ]] || { echo "generate.sh: $id has no <lang>.script.txt" >&2; exit 1; }
        lang="$(basename "$script" .script.txt)"; build_audio "$id" "$lang"
    done
done
for id in "${FILM_IDS[@]}"; do
    selected "$id" || continue
    for lang in sv en; do build_film "$id" "$lang"; done
    build_poster "$id"
done
echo "done: $(du -sh "$MEDIA_DIR" | cut -f1) in media/"
