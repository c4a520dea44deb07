/* The check-in page's camera: finds a QR code in the video and submits what it holds with the
   page's own form, exactly as if it had been typed. The browser's BarcodeDetector where there is
   one (Android, macOS, ChromeOS), else jsQR (static/vendor/jsqr, loaded only then).
   Without this script, or without a camera, the code is typed in the same form. */
(function () {
  "use strict";

  var scanner = document.querySelector("[data-door-scanner]");
  if (!scanner) return;
  var form = scanner.querySelector("[data-door-form]");
  var input = form.querySelector("input[name=code]");
  var camera = scanner.querySelector("[data-door-camera]");
  var video = camera.querySelector("video");
  var status = scanner.querySelector("[data-door-status]");
  var startButton = scanner.querySelector("[data-door-start]");
  /* The code this page answered: never sent again from this page, however long it stays in front of
     the camera (after "Admitted" it would come back as "already admitted"). */
  var answered = scanner.getAttribute("data-answered") || "";
  var stream = null;
  var timer = null;
  var submitted = false;

  function say(key) {
    status.textContent = key ? scanner.getAttribute("data-label-" + key) : "";
  }

  if (!window.isSecureContext) {
    say("insecure");
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;

  function jsQRDecoder() {
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return function (frame) {
      var width = frame.videoWidth;
      var height = frame.videoHeight;
      if (!width || !height) return Promise.resolve(null);
      var scale = Math.min(1, 800 / Math.max(width, height));
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      context.drawImage(frame, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      return Promise.resolve(found ? found.data : null);
    };
  }

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(jsQRDecoder());
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = scanner.getAttribute("data-decoder");
      script.onload = function () { resolve(jsQRDecoder()); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function loadDecoder() {
    if (!("BarcodeDetector" in window)) return loadJsQR();
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) return loadJsQR();
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return function (frame) {
        return detector.detect(frame).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      };
    }, loadJsQR);
  }

  function stop() {
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    camera.hidden = true;
  }

  function found(text) {
    if (!text || submitted) return;
    if (text === answered) return;
    submitted = true;
    stop();
    input.value = text;
    say("checking");
    form.submit();
  }

  function scanEvery(decode) {
    function tick() {
      decode(video).then(found, function () { return null; }).then(function () {
        if (stream && !submitted) timer = setTimeout(tick, 150);
      });
    }
    timer = setTimeout(tick, 150);
  }

  function start() {
    startButton.hidden = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        camera.hidden = false;
        return video.play();
      })
      .then(loadDecoder)
      .then(function (decode) {
        say("point");
        scanEvery(decode);
      })
      .catch(function () {
        stop();
        say("denied");
        startButton.hidden = false;
      });
  }

  startButton.addEventListener("click", start);
  window.addEventListener("pagehide", stop);
  /* Back from the browser's cache: the camera was stopped when the page was left. */
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      submitted = false;
      start();
    }
  });
  start();
})();
