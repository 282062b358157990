"""The audit page's stylesheet, inlined so the page opens offline."""

CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       background: #f6f7f9; color: #1d2330; font-size: 14px; }
header { position: sticky; top: 0; z-index: 5; background: #1d2330; color: #fff;
         padding: 8px 16px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 17px; margin: 0; font-weight: 600; }
header .sub { color: #b8c0cc; }
header .spacer { flex: 1; }
header button.save { background: #3a8f3e; color: #fff; border: 0; border-radius: 6px;
                     padding: 7px 16px; font-size: 15px; font-weight: 600; cursor: pointer; }
header button.save:hover { background: #2f7a33; }
#message { color: #ffd27a; }
#message.ok { color: #9be29f; }
main { padding: 8px 16px 48px; }
details.help { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px;
               padding: 6px 12px; margin: 8px 0; max-width: 1100px; }
details.help summary { cursor: pointer; font-weight: 600; }
details.help li { margin: 3px 0; }
section.line { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px;
               padding: 8px 12px 12px; margin: 12px 0; }
section.line h2 { font-size: 16px; margin: 0 0 2px; }
section.line h2 .pts { color: #5b6473; font-weight: 400; font-size: 13px; }
.tally { margin: 2px 0 6px; color: #3a4252; }
.tally b { color: #1d2330; }
.strip-scroll { overflow-x: auto; border: 1px solid #d8dce3; border-radius: 4px;
                background: #111; }
.strip { position: relative; cursor: crosshair; }
.strip img { display: block; width: 100%; user-select: none; -webkit-user-drag: none; }
.strip img.activity { image-rendering: pixelated; border-top: 2px solid #333; }
.strip .marker { position: absolute; top: 0; bottom: 16px; width: 2px; margin-left: -1px;
                 pointer-events: none; opacity: 0.85; }
.strip .dot { position: absolute; width: 10px; height: 10px; margin: -5px 0 0 -5px;
              border-radius: 50%; border: 2px solid #fff; pointer-events: none; }
.strip .cursor { position: absolute; top: 0; bottom: 16px; width: 0;
                 border-left: 2px dashed #ff3b3b; pointer-events: none; }
.strip .axis { position: relative; height: 16px; background: #1d2330; color: #cfd5de;
               font-size: 10px; }
.strip .axis span { position: absolute; top: 1px; transform: translateX(-50%); }
.s-counted { background: #2f6fd6; }
.s-unconfirmed { background: #e0a000; }
.s-confirmed { background: #2e9e44; }
.s-removed { background: #8a8f98; }
.legend { color: #5b6473; font-size: 12px; margin: 4px 0 8px; display: flex; gap: 14px;
          flex-wrap: wrap; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
            vertical-align: -1px; margin-right: 4px; }
.legend .sw { display: inline-block; width: 14px; height: 10px; vertical-align: -1px;
              margin-right: 4px; }
.viewer { margin: 4px 0 8px; }
.viewer .head { font-weight: 600; margin: 2px 0 4px; }
.viewer .hint { color: #5b6473; font-size: 12px; margin-bottom: 4px; }
.film { display: flex; gap: 6px; }
.film figure { margin: 0; cursor: pointer; border: 2px solid transparent; border-radius: 4px;
               background: #111; flex: 1 1 0; min-width: 0; }
.film figure.at { border-color: #ff3b3b; }
.film figure img { display: block; width: 100%; height: auto; }
.film figcaption { color: #cfd5de; font-size: 11px; padding: 1px 4px; text-align: center; }
.list { max-height: 380px; overflow-y: auto; border: 1px solid #e1e4ea; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th { position: sticky; top: 0; background: #eef0f4; text-align: left; font-weight: 600;
     padding: 4px 6px; font-size: 12px; color: #3a4252; z-index: 1; }
td { padding: 2px 6px; border-bottom: 1px solid #eceef2; vertical-align: middle; }
tr { cursor: pointer; }
tr.selected td { background: #fff4d6; }
tr.st-removed td { color: #9aa0aa; }
tr.st-removed td input.note, tr.st-removed td input.frame { text-decoration: line-through; }
td input.frame { width: 64px; }
td input.cls { width: 96px; }
td input.note { width: 100%; min-width: 160px; }
td input.bad { outline: 2px solid #d63b3b; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11px;
         color: #fff; white-space: nowrap; }
button.dir { width: 42px; border-radius: 10px; border: 1px solid #9aa0aa; cursor: pointer;
             font-weight: 600; padding: 1px 0; }
button.dir.in { background: #dcefdc; color: #256029; }
button.dir.out { background: #f9dcdc; color: #8a1f1f; }
button.remove { border: 0; background: none; cursor: pointer; color: #a33; font-size: 15px; }
button.small { font-size: 12px; padding: 2px 8px; cursor: pointer; }
kbd { background: #eef0f4; border: 1px solid #cdd2da; border-radius: 3px; padding: 0 4px;
      font-size: 12px; }
"""
