/* The behaviour every course deck shares (copied next to the decks as deck.js by
   mmlib.slides.build_deck; edit slides/template/mmcourse-reveal/deck.js and rebuild).
   Loaded after reveal.js and before MathJax; reads the per-deck settings mmDeckSettings
   (width, height, slideNumber, transition) that the deck defines inline. */

/* MathJax 3 typesets the $...$ / $$...$$ of the markdown cells (code and outputs are skipped:
   MathJax ignores <pre> and <code>); then reveal.js re-measures the slides. */
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {enableMenu: false},
  startup: {
    pageReady: function () {
      return MathJax.startup.defaultPageReady().then(function () {
        document.body.setAttribute("data-mathjax", "typeset");
        if (window.Reveal && Reveal.isReady()) { Reveal.layout(); mmHint(); }
      });
    }
  }
};

/* A slide taller than the screen scrolls inside itself: the arrow keys down/up scroll it first
   (then move to the next/previous vertical slide), the wheel scrolls it, and a hint at the
   bottom says when there is more below. */
function mmCurrent() { return Reveal.getCurrentSlide(); }
function mmMore(slide) {
  return slide && slide.scrollHeight - slide.clientHeight - slide.scrollTop > 4;
}
function mmHint() {
  document.querySelector(".reveal").classList.toggle("mm-more-below", mmMore(mmCurrent()));
}
function mmScroll(direction) {
  var slide = mmCurrent();
  var step = slide ? slide.clientHeight * 0.8 : 0;
  if (direction > 0 && mmMore(slide)) { slide.scrollBy({top: step, behavior: "smooth"}); }
  else if (direction < 0 && slide && slide.scrollTop > 0) {
    slide.scrollBy({top: -step, behavior: "smooth"});
  }
  else if (direction > 0) { Reveal.down(); }
  else { Reveal.up(); }
}
Reveal.initialize({
  width: mmDeckSettings.width,
  height: mmDeckSettings.height,
  margin: 0.04,
  center: false,
  hash: true,
  controls: true,
  progress: true,
  slideNumber: mmDeckSettings.slideNumber,
  transition: mmDeckSettings.transition,
  keyboard: {
    40: function () { mmScroll(1); },
    38: function () { mmScroll(-1); }
  },
  plugins: [RevealNotes]
}).then(function () {
  document.querySelectorAll(".reveal .slides section").forEach(function (section) {
    section.addEventListener("scroll", mmHint, {passive: true});
  });
  var hint = document.createElement("div");
  hint.className = "mm-scroll-hint";
  hint.textContent = "\u25BC more below: scroll or press \u2193";
  document.querySelector(".reveal").appendChild(hint);
  Reveal.on("slidechanged", function (event) {
    event.currentSlide.scrollTop = 0;  /* a slide always opens at its top */
    mmHint();
  });
  Reveal.on("resize", mmHint);
  mmHint();
});
