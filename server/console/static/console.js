// fragstore console: the little the pages need beyond HTML forms. No library.
// - forms with data-confirm ask first; [data-copy] buttons copy a field;
// - textareas with data-json say at once whether they hold JSON;
// - the upload area: files and folders, dropped or chosen, sent as multipart
//   uploads part by part with a progress bar, resumable (see upload_api.py).
"use strict";

(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    const said = button.parentElement.querySelector(".copied");
    try {
      await navigator.clipboard.writeText(field.value);
      if (said) said.textContent = "Copied.";
    } catch (err) {
      field.select();
      if (said) said.textContent = "Selected: press Ctrl+C to copy.";
    }
  });

  for (const area of document.querySelectorAll("textarea[data-json]")) {
    const out = document.getElementById(area.getAttribute("aria-describedby"));
    const check = () => {
      if (!area.value.trim()) { out.textContent = ""; area.removeAttribute("aria-invalid"); return; }
      try { JSON.parse(area.value); out.textContent = "Valid JSON."; area.removeAttribute("aria-invalid"); }
      catch (err) { out.textContent = "Not valid JSON: " + err.message; area.setAttribute("aria-invalid", "true"); }
    };
    area.addEventListener("input", check);
    check();
  }

  const box = document.getElementById("upload");
  if (box) uploader(box);

  function uploader(box) {
    const api = box.dataset.api, prefix = box.dataset.prefix || "", bucket = box.dataset.bucket;
    const list = document.getElementById("upload-list");
    const zone = document.getElementById("dropzone");
    const PART = 8 * 1024 * 1024, SINGLE = 8 * 1024 * 1024, MAX_PARTS = 10000, RETRIES = 3;
    let queue = Promise.resolve(), pending = 0, failed = 0;

    for (const id of ["file-input", "folder-input"]) {
      const input = document.getElementById(id);
      input.addEventListener("change", () => {
        add([...input.files].map((f) => [f, f.webkitRelativePath || f.name]));
        input.value = "";
      });
    }
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", async (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
      add(entries.length ? await walk(entries) : [...e.dataTransfer.files].map((f) => [f, f.name]));
    });
    zone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); document.getElementById("file-input").click(); }
    });
    for (const button of document.querySelectorAll("[data-abort-upload]")) {
      button.addEventListener("click", async () => {
        const q = new URLSearchParams({ key: button.dataset.abortKey, upload_id: button.dataset.abortUpload });
        await call("POST", `${api}/abort?${q}`);
        forget(button.dataset.abortKey);
        button.closest("li").remove();
      });
    }

    async function walk(entries) {  // dropped files and folders -> [file, relative path]
      const out = [];
      for (const entry of entries) {
        if (entry.isFile) {
          out.push([await new Promise((ok, ko) => entry.file(ok, ko)), entry.fullPath.replace(/^\//, "")]);
        } else if (entry.isDirectory) {
          const reader = entry.createReader();
          for (;;) {
            const batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
            if (!batch.length) break;
            out.push(...await walk(batch));
          }
        }
      }
      return out;
    }

    function add(files) {
      for (const [file, path] of files) {
        const row = document.createElement("li");
        const name = document.createElement("span"), state = document.createElement("span");
        const bar = document.createElement("progress");
        name.className = "name"; state.className = "state";
        name.textContent = prefix + path;
        state.textContent = "waiting";
        bar.max = Math.max(1, file.size); bar.value = 0;
        bar.setAttribute("aria-label", `upload of ${prefix + path}`);
        row.append(name, state, bar);
        list.append(row);
        pending += 1;
        queue = queue.then(() => send(file, prefix + path, state, bar)).then(finished, finished);
      }
    }

    function finished() {
      pending -= 1;
      if (pending === 0 && failed === 0) {
        const note = document.createElement("li");
        note.textContent = "All uploads done; refreshing the list.";
        list.append(note);
        setTimeout(() => window.location.reload(), 600);
      }
    }

    async function send(file, key, state, bar) {
      try {
        if (file.size <= SINGLE) {
          state.textContent = "uploading";
          await xhr("PUT", `${api}/object?${new URLSearchParams({ key })}`, file, file.type,
                    (n) => { bar.value = n; });
        } else {
          await multipart(file, key, state, bar);
        }
        bar.value = bar.max;
        state.textContent = "done";
      } catch (err) {
        failed += 1;
        state.textContent = "failed: " + err.message;
        state.classList.add("error");
      }
    }

    function memoryKey(key) { return `fragstore-upload:${bucket}:${key}`; }
    function forget(key) { try { localStorage.removeItem(memoryKey(key)); } catch (e) { /* private mode */ } }
    function recall(key, file) {
      try {
        const r = JSON.parse(localStorage.getItem(memoryKey(key)) || "null");
        return r && r.size === file.size && r.modified === file.lastModified && r.name === file.name ? r : null;
      } catch (e) { return null; }
    }

    async function multipart(file, key, state, bar) {
      const partSize = Math.max(PART, Math.ceil(file.size / MAX_PARTS));
      const count = Math.ceil(file.size / partSize);
      const done = new Map();
      let upload = null;
      const known = recall(key, file);
      if (known) {
        const open = await call("GET", `${api}/uploads?${new URLSearchParams({ key })}`);
        if (open.uploads.some((u) => u.upload_id === known.upload)) {
          upload = known.upload;
          const listed = await call("GET", `${api}/parts?${new URLSearchParams({ key, upload_id: upload })}`);
          for (const p of listed.parts) {
            const expected = p.part_number < count ? partSize : file.size - partSize * (count - 1);
            if (p.size === expected) done.set(p.part_number, p.etag);
          }
          state.textContent = `resuming: ${done.size} of ${count} parts already there`;
        }
      }
      if (!upload) {
        upload = (await call("POST", `${api}/uploads`, JSON.stringify({ key, content_type: file.type }),
                             "application/json")).upload_id;
        try {
          localStorage.setItem(memoryKey(key), JSON.stringify(
            { upload, size: file.size, modified: file.lastModified, name: file.name }));
        } catch (e) { /* no storage: not resumable */ }
      }
      let sent = 0;
      for (const n of done.keys()) sent += n < count ? partSize : file.size - partSize * (count - 1);
      bar.value = sent;
      for (let n = 1; n <= count; n += 1) {
        if (done.has(n)) continue;
        const blob = file.slice((n - 1) * partSize, Math.min(file.size, n * partSize));
        state.textContent = `part ${n} of ${count}`;
        const q = new URLSearchParams({ key, upload_id: upload, part_number: String(n) });
        let attempt = 0;
        for (;;) {
          try {
            const answer = await xhr("PUT", `${api}/part?${q}`, blob, "application/octet-stream",
                                     (loaded) => { bar.value = sent + loaded; });
            done.set(n, answer.etag);
            break;
          } catch (err) {
            attempt += 1;
            if (attempt >= RETRIES || err.status === 401 || err.status === 403) throw err;
            state.textContent = `part ${n}: retrying (${err.message})`;
            await new Promise((ok) => setTimeout(ok, 1000 * attempt));
          }
        }
        sent += blob.size;
      }
      state.textContent = "finishing";
      const parts = [...done.entries()].sort((a, b) => a[0] - b[0]).map(([n, etag]) => ({ part_number: n, etag }));
      await call("POST", `${api}/complete?${new URLSearchParams({ key, upload_id: upload })}`,
                 JSON.stringify({ parts }), "application/json");
      forget(key);
    }

    function failure(status, text) {
      let message = `HTTP ${status}`;
      try { const doc = JSON.parse(text); message = `${doc.error}: ${doc.message}`; } catch (e) { /* not JSON */ }
      if (status === 401) message = "logged out: log in again, then drop the file again to resume";
      const err = new Error(message);
      err.status = status;
      return err;
    }

    async function call(method, url, body, type) {
      const headers = { "X-CSRF-Token": csrf };
      if (type) headers["Content-Type"] = type;
      const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
      const text = await response.text();
      if (!response.ok) throw failure(response.status, text);
      return JSON.parse(text);
    }

    function xhr(method, url, body, type, progress) {
      return new Promise((ok, ko) => {
        const request = new XMLHttpRequest();
        request.open(method, url);
        request.setRequestHeader("X-CSRF-Token", csrf);
        request.setRequestHeader("Content-Type", type || "application/octet-stream");
        request.upload.onprogress = (e) => progress(e.loaded);
        request.onload = () => {
          if (request.status >= 200 && request.status < 300) ok(JSON.parse(request.responseText));
          else ko(failure(request.status, request.responseText));
        };
        request.onerror = () => ko(Object.assign(new Error("network error"), { status: 0 }));
        request.send(body);
      });
    }
  }
})();
