// Microphone capture (AudioWorklet → 24 kHz PCM16) and reply playback with a small jitter
// buffer; the player knows how much of each assistant item has actually been heard, so a
// barge-in can truncate at that position.

export const RATE = 24000;
const JITTER_S = 0.08; // wait this much before starting playback after silence

export function pcm16ToBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function base64ToInt16(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Int16Array(bytes.buffer, 0, bytes.length >> 1);
}

export class Microphone {
  constructor(context, onChunk) {
    this.context = context;
    this.onChunk = onChunk;
    this.stream = null;
    this.node = null;
    this.source = null;
  }

  async start() {
    // Echo cancellation keeps the bot's own voice (from speakers) from barging in. Noise
    // suppression and automatic gain are off: tuned for human listeners, they blurred digit runs
    // ("100001") for speech recognition in our tests.
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
    await this.context.audioWorklet.addModule(new URL("mic-worklet.js", import.meta.url));
    try {
      this.source = this.context.createMediaStreamSource(this.stream);
    } catch (err) {
      // Firefox cannot connect a microphone to a context of another rate: tell the caller to
      // retry with a native-rate context (the worklet then resamples).
      for (const track of this.stream.getTracks()) track.stop();
      err.rateMismatch = true;
      throw err;
    }
    this.node = new AudioWorkletNode(this.context, "mic-processor", { numberOfInputs: 1, numberOfOutputs: 1 });
    this.node.port.onmessage = (e) => this.onChunk(e.data);
    // A silent path to the destination keeps the node pulled by the audio graph in every browser.
    this.sink = this.context.createGain();
    this.sink.gain.value = 0;
    this.source.connect(this.node);
    this.node.connect(this.sink);
    this.sink.connect(this.context.destination);
  }

  stop() {
    if (this.node) { this.node.port.postMessage("flush"); this.node.port.onmessage = null; this.node.disconnect(); }
    if (this.source) this.source.disconnect();
    if (this.sink) this.sink.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.node = this.source = this.stream = this.sink = null;
  }
}

export class Player {
  constructor(context) {
    this.context = context;
    this.output = context.createGain();
    this.output.connect(context.destination);
    this.nextTime = 0;
    this.scheduled = []; // {source, itemId, contentIndex, start, duration, offset}
    this.received = new Map(); // itemId → seconds received
  }

  // Queue PCM16 samples of an assistant item; returns nothing. Plays gaplessly after the
  // previous chunk, or after a short jitter buffer when playback had run dry.
  enqueue(itemId, contentIndex, samples) {
    const ctx = this.context;
    const buffer = ctx.createBuffer(1, samples.length, RATE);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) data[i] = samples[i] / 0x8000;
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    const now = ctx.currentTime;
    if (this.nextTime < now) this.nextTime = now + JITTER_S;
    const offset = this.received.get(itemId) || 0;
    const entry = { source, itemId, contentIndex, start: this.nextTime, duration: buffer.duration, offset };
    source.onended = () => { this.scheduled = this.scheduled.filter((s) => s !== entry); };
    source.start(this.nextTime);
    this.scheduled.push(entry);
    this.nextTime += buffer.duration;
    this.received.set(itemId, offset + buffer.duration);
  }

  get playing() {
    return this.scheduled.some((s) => s.start + s.duration > this.context.currentTime);
  }

  // Stop everything now; return {itemId, contentIndex, heardMs, receivedMs} for the item that
  // was being heard (null if nothing was playing).
  stop() {
    const now = this.context.currentTime;
    let cut = null;
    for (const s of this.scheduled) {
      if (s.start <= now && now < s.start + s.duration) {
        const heard = s.offset + (now - s.start);
        cut = { itemId: s.itemId, contentIndex: s.contentIndex, heardMs: Math.floor(heard * 1000),
          receivedMs: Math.floor((this.received.get(s.itemId) || 0) * 1000) };
      }
    }
    if (!cut) {
      // between chunks or still in the jitter buffer: the item waiting to play was heard up to its offset
      const waiting = this.scheduled.find((s) => s.start > now);
      if (waiting) cut = { itemId: waiting.itemId, contentIndex: waiting.contentIndex,
        heardMs: Math.floor(waiting.offset * 1000),
        receivedMs: Math.floor((this.received.get(waiting.itemId) || 0) * 1000) };
    }
    for (const s of this.scheduled) { try { s.source.stop(); } catch (_) { /* already stopped */ } }
    this.scheduled = [];
    this.nextTime = 0;
    return cut;
  }
}
