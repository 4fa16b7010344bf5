// AudioWorklet: microphone → 24 kHz 16-bit mono PCM, posted to the page in ~40 ms chunks.
// Runs at the AudioContext's rate (`sampleRate`, usually 48000 or 44100) and resamples with a
// moving-average low-pass plus linear interpolation: plenty for speech recognition.
const TARGET_RATE = 24000;
const CHUNK = 960; // 40 ms at 24 kHz

class MicProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.taps = Math.max(1, Math.round(this.step)); // low-pass window before decimation
    this.history = new Float32Array(this.taps);
    this.historyPos = 0;
    this.sum = 0;
    this.pos = 0; // fractional read position in the filtered stream
    this.prev = 0; // last filtered sample (for interpolation across blocks)
    this.out = new Int16Array(CHUNK);
    this.outLen = 0;
    this.port.onmessage = (e) => { if (e.data === "flush") this.flush(); };
  }

  push(value) {
    const s = Math.max(-1, Math.min(1, value));
    this.out[this.outLen++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.outLen === CHUNK) this.flush();
  }

  flush() {
    if (this.outLen === 0) return;
    const chunk = this.out.slice(0, this.outLen);
    this.port.postMessage(chunk.buffer, [chunk.buffer]);
    this.outLen = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      // moving average over `taps` samples (cheap anti-aliasing)
      this.sum += channel[i] - this.history[this.historyPos];
      this.history[this.historyPos] = channel[i];
      this.historyPos = (this.historyPos + 1) % this.taps;
      const current = this.sum / this.taps;
      // emit every output sample whose position falls between prev (pos 0) and current (pos 1)
      while (this.pos <= 1) {
        this.push(this.prev + (current - this.prev) * this.pos);
        this.pos += this.step;
      }
      this.pos -= 1;
      this.prev = current;
    }
    return true;
  }
}

registerProcessor("mic-processor", MicProcessor);
