// Ferry demo page: joins a room over protoo (mediasoup-demo's protocol), sends camera and microphone,
// shows every other peer's tiles, and chats over a "chat" data producer (a DataChannel) as
// mediasoup-demo does. window.ferry exposes state for the browser tests.
import * as mediasoupClient from 'mediasoup-client';
import protooClient from 'protoo-client';

const state = {
  peers: new Map(), consumers: new Map(), producers: new Map(), dataConsumers: new Map(), chatProducer: null,
  chat: [], joined: false, peerId: null, roomId: null, errors: [],
};
window.ferry = state;

const $ = (id) => document.getElementById(id);
const setStatus = (text) => { $('status').textContent = text; };

let protoo = null;
let device = null;
let sendTransport = null;
let recvTransport = null;
let statsTimer = null;
// ?forceTcp=1 asks the server for TCP candidates only, as mediasoup-demo's client does.
const forceTcp = new URLSearchParams(location.search).get('forceTcp') === '1';
// ?jitterBufferTarget=MS asks each receiver to hold that much media (RTCRtpReceiver.jitterBufferTarget),
// as the jitter buffer of a call over the internet would; on loopback the browser shrinks it to ~20 ms.
const jitterBufferTarget = Number(new URLSearchParams(location.search).get('jitterBufferTarget')) || 0;
const ignoreMoves = new URLSearchParams(location.search).get('ignoreMoves') === '1';
const restartAlways = new URLSearchParams(location.search).get('restartIce') === '1';
const watchTimeline = new URLSearchParams(location.search).get('timeline') === '1';
// ?video=WIDTHxHEIGHT sets the camera's capture size (default 640x480).
const [videoWidth, videoHeight] = (/^(\d+)x(\d+)$/.exec(new URLSearchParams(location.search).get('video') || '') || [null, '640', '480']).slice(1).map(Number);
// ?simulcast=1 sends the camera as mediasoup-demo's app does by default: three VP8 streams at a quarter,
// half and full size (scaleResolutionDownBy 4, 2, 1; maxBitrate 0.5, 1 and 5 Mbit/s; L1T3).
const simulcast = new URLSearchParams(location.search).get('simulcast') === '1';
const simulcastEncodings = [
  { scaleResolutionDownBy: 4, maxBitrate: 500000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 2, maxBitrate: 1000000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 1, maxBitrate: 5000000, scalabilityMode: 'L1T3' },
];

function randomId() { return Math.random().toString(36).slice(2, 10); }

function tileFor(peerId, displayName, isMe) {
  let tile = document.querySelector(`.tile[data-peer-id="${CSS.escape(peerId)}"]`);
  if (tile) return tile;
  tile = document.createElement('div');
  tile.className = 'tile' + (isMe ? ' me' : '');
  tile.dataset.peerId = peerId;
  tile.innerHTML = '<video autoplay playsinline muted></video><audio autoplay></audio>' +
    '<div class="bar"><span class="name"></span><span class="buttons"></span></div><div class="stats"></div>';
  tile.querySelector('.name').textContent = displayName + (isMe ? ' (you)' : '');
  $('tiles').appendChild(tile);
  return tile;
}

function addMuteButton(tile, label, onToggle) {
  const button = document.createElement('button');
  button.textContent = label;
  button.addEventListener('click', async () => {
    const muted = !button.classList.contains('muted');
    await onToggle(muted);
    button.classList.toggle('muted', muted);
  });
  tile.querySelector('.buttons').appendChild(button);
}

async function join(roomId, displayName) {
  state.roomId = roomId;
  state.leaving = false;
  state.peerId = randomId();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}/?roomId=${encodeURIComponent(roomId)}&peerId=${state.peerId}`;
  protoo = await connectSignaling(url);
  setStatus('connected');

  device = new mediasoupClient.Device();
  const routerRtpCapabilities = await protoo.request('getRouterRtpCapabilities');
  await device.load({ routerRtpCapabilities });

  // mediasoup-demo sends device.sctpCapabilities; mediasoup-client 3.24 no longer has it, so the page
  // states what libwebrtc allows (1024 streams each way), which makes the server enable data channels.
  const sctpCapabilities = { numStreams: { OS: 1024, MIS: 1024 } };
  const sendInfo = await protoo.request('createWebRtcTransport', { forceTcp, producing: true, consuming: false, sctpCapabilities });
  sendTransport = device.createSendTransport(sendInfo);
  state.sendTransportForTests = sendTransport;
  sendTransport.on('connect', ({ dtlsParameters }, callback, errback) =>
    protoo.request('connectWebRtcTransport', { transportId: sendTransport.id, dtlsParameters }).then(callback).catch(errback));
  sendTransport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) =>
    protoo.request('produce', { transportId: sendTransport.id, kind, rtpParameters, appData }).then(({ id }) => callback({ id })).catch(errback));
  sendTransport.on('producedata', ({ sctpStreamParameters, label, protocol, appData }, callback, errback) =>
    protoo.request('produceData', { transportId: sendTransport.id, sctpStreamParameters, label, protocol, appData })
      .then(({ id }) => callback({ id })).catch(errback));

  const recvInfo = await protoo.request('createWebRtcTransport', { forceTcp, producing: false, consuming: true, sctpCapabilities });
  recvTransport = device.createRecvTransport(recvInfo);
  recvTransport.on('connect', ({ dtlsParameters }, callback, errback) =>
    protoo.request('connectWebRtcTransport', { transportId: recvTransport.id, dtlsParameters }).then(callback).catch(errback));

  const { peers } = await protoo.request('join', {
    displayName, device: { name: 'ferry-demo', flag: 'chrome' }, rtpCapabilities: device.rtpCapabilities, sctpCapabilities,
  });
  state.joined = true;
  for (const peer of peers) addPeer(peer);
  $('joinButton').hidden = true;
  $('leaveButton').hidden = false;
  setStatus(`in room ${roomId}`);

  // The chat: mediasoup-demo's "chat" data producer, but ordered and reliable (its demo sends chat
  // unordered with one retransmission; a chat line should neither get lost nor overtake another).
  state.chatProducer = await sendTransport.produceData({ ordered: true, label: 'chat', priority: 'medium', appData: { info: 'my-chat-DataProducer' } });
  $('chat').hidden = false;

  const me = tileFor(state.peerId, displayName, true);
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: videoWidth, height: videoHeight } });
  me.querySelector('video').srcObject = new MediaStream(stream.getVideoTracks());
  for (const track of stream.getTracks()) {
    const options = { track, appData: { source: track.kind === 'audio' ? 'mic' : 'webcam' } };
    if (simulcast && track.kind === 'video') Object.assign(options, { encodings: simulcastEncodings, codecOptions: { videoGoogleStartBitrate: 1000 } });
    const producer = await sendTransport.produce(options);
    state.producers.set(producer.id, producer);
    addMuteButton(me, track.kind === 'audio' ? 'mic' : 'cam', async (muted) => {
      if (muted) { producer.pause(); await protoo.request('pauseProducer', { producerId: producer.id }); }
      else { producer.resume(); await protoo.request('resumeProducer', { producerId: producer.id }); }
    });
  }
  statsTimer = setInterval(updateStats, 1000);
}

/** Notes what happened when (kept for the tests: window.ferry.timeline). */
function mark(what) {
  state.timeline = state.timeline || [];
  if (state.timeline.length < 200) state.timeline.push({ at: Date.now(), what });
}

/** A protoo connection to the room at <url>, open. */
async function connectSignaling(url, retry = { retries: 0 }) {
  const peer = new protooClient.Peer(new protooClient.WebSocketTransport(url, { retry }));
  peer.on('request', onRequest);
  peer.on('notification', onNotification);
  // Only the connection in use says so: the one left behind after the room moved closes quietly.
  peer.on('close', () => {
    if (protoo !== peer) return;
    setStatus('disconnected');
    mark('signaling closed');
    // Its node died (or the network dropped it): the session may go on elsewhere, so look for it there.
    if (state.joined && !state.leaving && state.nodeUrls) onNodeLost(peer).catch((error) => state.errors.push(`reconnect: ${error}`));
  });
  await new Promise((resolve, reject) => { peer.on('open', resolve); peer.on('failed', reject); });
  return peer;
}

/**
 * The room moved to another server: the session goes on there (same transports, producers and consumers;
 * the transports were told their new candidates just before), only the WebSocket reconnects.
 */
async function onRoomMoved({ url }) {
  const target = new URL(url);
  const scheme = target.protocol === 'https:' ? 'wss' : 'ws';
  // A few tries: the session waits there for 30 s, and one refused connect must not end it.
  const next = await connectSignaling(`${scheme}://${target.host}/?roomId=${encodeURIComponent(state.roomId)}&peerId=${state.peerId}`,
    { retries: 4, factor: 2, minTimeout: 200, maxTimeout: 2000 });
  const old = protoo;
  protoo = next;
  old.close();
  state.signalingUrl = url;
  state.roomMoves = (state.roomMoves || 0) + 1;
}

/**
 * The WebSocket closed without the room moving: its node may have died, and its room come back on another node
 * from a copy (same transports, producers and consumers: the transports are told their new candidates once this
 * page is back). Any node serves any room, so every node the server listed is tried in turn, for up to 20 s.
 */
async function onNodeLost(lost) {
  const deadline = Date.now() + 20000;
  const current = new URL(state.signalingUrl || location.href);
  const urls = [...(state.nodeUrls || [])];
  // This page's own node last: it is the one most likely dead.
  urls.sort((a, b) => (new URL(a).host === current.host) - (new URL(b).host === current.host));
  for (let attempt = 0; Date.now() < deadline && protoo === lost; attempt++) {
    const url = new URL(urls[attempt % urls.length]);
    const scheme = url.protocol === 'https:' ? 'wss' : 'ws';
    try {
      // resume=1: the node serves this session where its room is, and never opens a new room for it.
      const next = await connectSignaling(`${scheme}://${url.host}/?roomId=${encodeURIComponent(state.roomId)}&peerId=${state.peerId}&resume=1`);
      if (protoo !== lost) { next.close(); return; }
      protoo = next;
      state.signalingUrl = url.origin;
      state.reconnects = (state.reconnects || 0) + 1;
      mark(`signaling resumed at ${url.host}`);
      setStatus(`in room ${state.roomId}`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  if (protoo === lost) state.errors.push('reconnect: no node took the session back');
}

function addPeer(peer) {
  state.peers.set(peer.id, peer);
  tileFor(peer.id, peer.displayName || peer.id, false);
}

function removePeer(peerId) {
  state.peers.delete(peerId);
  const tile = document.querySelector(`.tile[data-peer-id="${CSS.escape(peerId)}"]`);
  if (tile) tile.remove();
}

async function onRequest(request, accept, reject) {
  try {
    if (request.method === 'newConsumer') {
      const { peerId, producerId, id, kind, rtpParameters, appData } = request.data;
      const consumer = await recvTransport.consume({ id, producerId, kind, rtpParameters, appData: { ...appData, peerId } });
      state.consumers.set(consumer.id, consumer);
      if (jitterBufferTarget && 'jitterBufferTarget' in consumer.rtpReceiver) consumer.rtpReceiver.jitterBufferTarget = jitterBufferTarget;
      consumer.on('transportclose', () => state.consumers.delete(consumer.id));
      const tile = tileFor(peerId, state.peers.get(peerId)?.displayName || peerId, false);
      const element = tile.querySelector(kind === 'video' ? 'video' : 'audio');
      const stream = element.srcObject || new MediaStream();
      stream.addTrack(consumer.track);
      element.srcObject = stream;
      addMuteButton(tile, kind === 'audio' ? 'mute' : 'hide', async (muted) => {
        if (kind === 'audio') element.muted = muted; else element.style.visibility = muted ? 'hidden' : 'visible';
      });
      accept();
    } else if (request.method === 'newDataConsumer') {
      const { peerId, dataProducerId, id, sctpStreamParameters, label, protocol, appData } = request.data;
      const dataConsumer = await recvTransport.consumeData({ id, dataProducerId, sctpStreamParameters, label, protocol, appData: { ...appData, peerId } });
      state.dataConsumers.set(dataConsumer.id, dataConsumer);
      dataConsumer.on('transportclose', () => state.dataConsumers.delete(dataConsumer.id));
      if (label === 'chat') {
        dataConsumer.on('message', (message) => {
          const text = typeof message === 'string' ? message : new TextDecoder().decode(message);
          addChatLine(peerId, text);
        });
      }
      accept();
    } else {
      reject(403, 'unknown method');
    }
  } catch (error) {
    state.errors.push(String(error));
    reject(500, String(error));
  }
}

function onNotification(notification) {
  const data = notification.data;
  switch (notification.method) {
    case 'newPeer': addPeer(data); break;
    case 'peerClosed': removePeer(data.peerId); break;
    case 'peerDisplayNameChanged': {
      const peer = state.peers.get(data.peerId);
      if (peer) peer.displayName = data.displayName;
      const tile = document.querySelector(`.tile[data-peer-id="${CSS.escape(data.peerId)}"] .name`);
      if (tile) tile.textContent = data.displayName;
      break;
    }
    case 'consumerClosed': {
      const consumer = state.consumers.get(data.consumerId);
      if (consumer) { consumer.close(); state.consumers.delete(data.consumerId); }
      break;
    }
    case 'dataConsumerClosed': {
      const dataConsumer = state.dataConsumers.get(data.dataConsumerId);
      if (dataConsumer) { dataConsumer.close(); state.dataConsumers.delete(data.dataConsumerId); }
      break;
    }
    case 'consumerPaused': state.consumers.get(data.consumerId)?.pause(); break;
    case 'consumerResumed': state.consumers.get(data.consumerId)?.resume(); break;
    // The server's estimate of what it can send this browser (mediasoup-demo's downlinkBwe), kept for the tests.
    case 'downlinkBwe': state.downlinkBwe = data; break;
    // The cluster's nodes: where to reconnect if this page's node dies.
    case 'ferryNodes': state.nodeUrls = data.urls; break;
    case 'roomMoved':
      onRoomMoved(data).catch((error) => state.errors.push(`roomMoved: ${error}`));
      break;
    case 'transportMoved':
      onTransportMoved(data).catch((error) => state.errors.push(`transportMoved: ${error}`));
      break;
    case 'activeSpeaker':
      document.querySelectorAll('.tile').forEach((t) => t.classList.toggle('speaking', t.dataset.peerId === data.peerId));
      break;
    default: break;
  }
}

/**
 * The server moved one of this page's transports to another server (or worker) and says where it lives now.
 * Stock mediasoup-client, no renegotiation: an ICE restart with the new credentials, then the new candidate
 * added to the transport's peer connection. Chrome would switch on the candidate alone; Firefox ignores a
 * candidate after ICE completed and moves only with the restart (docs/cluster.md). DTLS and SRTP go on; until
 * the browser switches, the old address relays. A page that ignores this keeps working through the relay.
 */
async function onTransportMoved({ transportId, iceParameters, iceCandidates }) {
  mark(`transportMoved ${transportId}`);
  // ?ignoreMoves=1 behaves as a client that does not know this notification (it stays on the relay), for the tests.
  if (ignoreMoves) return;
  const transport = [sendTransport, recvTransport].find((t) => t && t.id === transportId);
  if (!transport || transport.closed) return;
  // Chrome switches on a candidate with a higher priority under the old credentials (which the new address
  // accepts too); its ICE restart costs an audio concealment per move (measured 10 in 10 moves, 0 in 4 without).
  // Firefox moves only after a restart. ?restartIce=1 restarts in every browser.
  const restart = restartAlways || !device.handlerName.startsWith('Chrome');
  if (restart) await transport.restartIce({ iceParameters });
  const pc = transport.handler._pc;
  // Before the first negotiation there is nothing to add to: the relay carries this transport.
  if (!pc || !pc.remoteDescription) return;
  for (const c of iceCandidates) {
    const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType || 'passive'}` : '';
    const candidate = `candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address || c.ip} ${c.port} typ ${c.type}${tcp}`;
    await pc.addIceCandidate({ candidate, sdpMLineIndex: 0 });
  }
  state.moves = (state.moves || 0) + 1;
  state.restarts = (state.restarts || 0) + (restart ? 1 : 0);
  // ?timeline=1: note when the browser switches and the video comes back (the failover test's figures).
  if (watchTimeline) watchSwitch(transport);
}

/** Marks in the timeline when the browser's selected candidate pair of <transport> changes (for the tests' figures). */
async function watchSwitch(transport) {
  const pairOf = async () => {
    for (const s of (await transport.getStats()).values()) if (s.type === 'transport') return s.selectedCandidatePairId;
    return undefined;
  };
  const before = await pairOf();
  for (let i = 0; i < 100 && !transport.closed; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (await pairOf() !== before) { mark(`switched ${transport.id}`); break; }
  }
  if (transport.direction !== 'recv') return;
  // What the receiving side sees next: packets again, then a decoded frame (the gap between is the wait for a key frame).
  const video = async () => {
    for (const s of (await transport.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'video') return s;
    return undefined;
  };
  const start = await video();
  let packets = false;
  for (let i = 0; i < 200 && start && !transport.closed; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const now = await video();
    if (!now) return;
    if (!packets && now.packetsReceived > start.packetsReceived) { packets = true; mark(`video packets (+${now.packetsReceived - start.packetsReceived}, keyFramesDecoded ${now.keyFramesDecoded}, pli ${now.pliCount})`); }
    if (now.framesDecoded > start.framesDecoded) { mark(`video decoded (keyFramesDecoded ${now.keyFramesDecoded}, pli ${now.pliCount}, nack ${now.nackCount})`); return; }
  }
}

/** A received (or sent) chat line: kept in window.ferry.chat and shown in the list. */
function addChatLine(peerId, text, mine = false) {
  state.chat.push({ peerId, text, mine });
  const item = document.createElement('li');
  const who = mine ? 'me' : (state.peers.get(peerId)?.displayName || peerId);
  item.textContent = `${who}: ${text}`;
  if (mine) item.className = 'mine';
  $('chatLines').appendChild(item);
  item.scrollIntoView({ block: 'nearest' });
}

/** Sends one chat line over the chat data producer; also used by the tests. */
state.sendChat = (text) => {
  if (!state.chatProducer || state.chatProducer.closed) throw new Error('no chat data producer');
  state.chatProducer.send(text);
  addChatLine(state.peerId, text, true);
};

async function updateStats() {
  for (const consumer of state.consumers.values()) {
    if (consumer.kind !== 'video') continue;
    const stats = await consumer.getStats();
    for (const s of stats.values()) {
      if (s.type !== 'inbound-rtp') continue;
      const tile = document.querySelector(`.tile[data-peer-id="${CSS.escape(consumer.appData.peerId)}"] .stats`);
      if (tile) tile.textContent = `${s.frameWidth || 0}x${s.frameHeight || 0} ${Math.round(s.framesPerSecond || 0)} fps, ${s.packetsLost} lost`;
    }
  }
}

function leave() {
  state.leaving = true;
  clearInterval(statsTimer);
  if (protoo) protoo.close();
  if (sendTransport) sendTransport.close();
  if (recvTransport) recvTransport.close();
  state.joined = false;
  state.chatProducer = null;
  $('chat').hidden = true;
  document.querySelectorAll('.tile').forEach((t) => t.remove());
  $('joinButton').hidden = false;
  $('leaveButton').hidden = true;
  setStatus('left');
}

/** A protoo request to the server (getProducerStats, getConsumerStats, getTransportStats, ...), for the tests. */
state.request = (method, data) => protoo.request(method, data);
/** The ids of this page's two transports on the server, for the tests. */
state.transportIds = () => ({ send: sendTransport?.id, recv: recvTransport?.id });

/** Outbound stats of every sending stream (one per simulcast rid), for the tests. */
state.outboundStats = async () => {
  const result = [];
  if (!sendTransport) return result;
  const report = await sendTransport.getStats();
  for (const s of report.values()) if (s.type === 'outbound-rtp') result.push({ ...s });
  return result;
};

/** Inbound stats of every receiving track, for the tests: [{kind, packetsReceived, framesDecoded, ...}]. */
state.inboundStats = async () => {
  const result = [];
  if (!recvTransport) return result;
  const report = await recvTransport.getStats();
  for (const s of report.values()) if (s.type === 'inbound-rtp') result.push({ ...s });
  return result;
};

/**
 * The selected ICE candidate pair of each transport with its local and remote candidates, for the
 * tests: [{direction, state, localProtocol, localCandidateType, remoteProtocol, remotePort, ...}].
 */
state.selectedPairs = async () => {
  const result = [];
  for (const transport of [sendTransport, recvTransport]) {
    if (!transport) continue;
    const report = await transport.getStats();
    for (const t of report.values()) {
      if (t.type !== 'transport' || !t.selectedCandidatePairId) continue;
      const pair = report.get(t.selectedCandidatePairId);
      const local = pair && report.get(pair.localCandidateId);
      const remote = pair && report.get(pair.remoteCandidateId);
      result.push({
        direction: transport.direction, state: pair?.state,
        localProtocol: local?.protocol, localCandidateType: local?.candidateType, localTcpType: local?.tcpType, localAddress: local?.address, localPort: local?.port,
        remoteProtocol: remote?.protocol, remoteTcpType: remote?.tcpType, remotePort: remote?.port,
      });
    }
  }
  return result;
};

/** The peer connections' transport stats (selected pair changes, DTLS state), for the tests. */
state.transportStats = async () => {
  const result = [];
  for (const transport of [sendTransport, recvTransport]) {
    if (!transport) continue;
    const report = await transport.getStats();
    for (const s of report.values()) {
      if (s.type !== 'transport') continue;
      const pair = report.get(s.selectedCandidatePairId);
      result.push({ direction: transport.direction, ...s, availableOutgoingBitrate: pair?.availableOutgoingBitrate });
    }
  }
  return result;
};

$('join').addEventListener('submit', (event) => {
  event.preventDefault();
  join($('room').value, $('name').value || 'guest').catch((error) => { state.errors.push(String(error)); setStatus(`error: ${error}`); });
});
$('leaveButton').addEventListener('click', leave);
$('chatForm').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('chatText').value.trim();
  if (!text) return;
  try { state.sendChat(text); $('chatText').value = ''; } catch (error) { state.errors.push(String(error)); }
});

const params = new URLSearchParams(location.search);
if (params.get('roomId')) $('room').value = params.get('roomId');
if (params.get('displayName')) $('name').value = params.get('displayName');
if (params.get('autojoin') === '1') $('joinButton').click();
