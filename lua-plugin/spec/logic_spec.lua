local json = require "commons_export.json"
local logic = require "commons_export.logic"

local function image(fields)
  local img = {
    id = 12, path = "/photos/2024", filename = "x.NEF", duplicate_index = 0,
    title = "Pont Neuf", description = "The oldest bridge", creator = "Ada", rights = "CC BY-SA 4.0",
    exif_datetime_taken = "2024:05:01 12:30:00", exif_maker = "NIKON CORPORATION", exif_model = "NIKON D750",
    exif_lens = "24-70mm", latitude = 48.857, longitude = 2.341, elevation = 35.5,
  }
  for k, v in pairs(fields or {}) do img[k] = v end
  for _, k in ipairs((fields or {}).unset or {}) do img[k] = nil end
  img.unset = nil
  return img
end

describe("build_meta", function()
  local tags = { "Category|Bridges", "places|Paris", "darktable|exported", "darktable|format|jpg",
    "Wikimedia Commons|uploaded", "Wikimedia Commons|File|Pont Neuf 2024.jpg" }
  local choices = { license = "cc-by-sa-4.0", categories = { "Bridges in Paris" }, language = "fr",
    title_pattern = "{title} {date}", on_reexport = "new-version", strip_location = false, author = "Ada L." }

  it("collects what darktable knows, in the contract's shape", function()
    local m = logic.build_meta(image(), tags, choices, "darktable-1-a")
    assert.equal("darktable-1-a", m.batch)
    assert.same({ app = "darktable", image_id = 12, path = "/photos/2024/x.NEF", filename = "x.NEF",
      duplicate_index = 0, commons_title = "File:Pont Neuf 2024.jpg" }, m.source)
    assert.equal("Pont Neuf", m.metadata.title)
    assert.equal("The oldest bridge", m.metadata.description)
    assert.equal("Ada", m.metadata.creator)
    assert.equal("CC BY-SA 4.0", m.metadata.rights)
    assert.same({ "Category|Bridges", "places|Paris" }, { table.unpack(m.metadata.tags) })
    assert.equal(48.857, m.metadata.latitude)
    assert.equal(2.341, m.metadata.longitude)
    assert.equal(35.5, m.metadata.elevation)
    assert.equal("2024:05:01 12:30:00", m.metadata.datetime_taken)
    assert.equal("NIKON D750", m.metadata.camera)
    assert.equal("24-70mm", m.metadata.lens)
    assert.same({ license = "cc-by-sa-4.0", categories = { "Bridges in Paris" }, language = "fr",
      title_pattern = "{title} {date}", title = "", on_reexport = "new-version", strip_location = false,
      author = "Ada L." }, m.options)
  end)

  it("encodes to exactly the top-level keys the helper accepts", function()
    local back = json.decode(json.encode(logic.build_meta(image(), tags, choices, "b")))
    local keys = {}
    for k in pairs(back) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "batch", "metadata", "options", "source" }, keys)
    assert.equal("File:Pont Neuf 2024.jpg", back.source.commons_title)
  end)

  it("sends null for an unknown location and title, [] for no tags", function()
    local img = image({ unset = { "latitude", "longitude", "elevation" } })
    local text = json.encode(logic.build_meta(img, {}, {}, "b"))
    assert.matches('"latitude":null', text, 1, true)
    assert.matches('"longitude":null', text, 1, true)
    assert.matches('"elevation":null', text, 1, true)
    assert.matches('"commons_title":null', text, 1, true)
    assert.matches('"tags":[]', text, 1, true)
    assert.matches('"categories":[]', text, 1, true)
    assert.matches('"on_reexport":"new-version"', text, 1, true)
  end)

  it("drops a half location and strips it on request", function()
    local m = logic.build_meta(image({ unset = { "longitude" } }), {}, {}, "b")
    assert.equal(json.null, m.metadata.latitude)
    m = logic.build_meta(image(), {}, { strip_location = true }, "b")
    assert.equal(json.null, m.metadata.latitude)
    assert.equal(json.null, m.metadata.longitude)
    assert.equal(json.null, m.metadata.elevation)
    assert.is_true(m.options.strip_location)
  end)

  it("reads images whose fields raise (older API) and keeps unset strings empty", function()
    local img = setmetatable({}, { __index = function(_, k)
      if k == "exif_lens" then error("unknown field") end
      if k == "title" then return "" end
      return nil
    end })
    local m = logic.build_meta(img, {}, {}, "b")
    assert.equal("", m.metadata.lens)
    assert.equal("", m.metadata.title)
    assert.equal(json.null, m.source.image_id)
    assert.equal(0, m.source.duplicate_index)
  end)

  it("keeps the maker when the model does not repeat it", function()
    assert.equal("Canon EOS R5", logic.build_meta(image({ exif_maker = "Canon", exif_model = "EOS R5" }), {}, {}, "b").metadata.camera)
  end)

  it("passes on the duplicate index of a darktable duplicate", function()
    assert.equal(2, logic.build_meta(image({ duplicate_index = 2 }), {}, {}, "b").source.duplicate_index)
  end)
end)

describe("the Commons title tag", function()
  it("parses the tag back into a title", function()
    assert.equal("File:A b.jpg", (logic.title_from_tags({ "x", "Wikimedia Commons|File|A b.jpg" })))
    assert.equal("File:A b.jpg", (logic.title_from_tags({ "wikimedia commons|file|A b.jpg" })))
    assert.is_nil(logic.title_from_tags({ "Wikimedia Commons|uploaded", "Wikimedia Commons|File|" }))
    assert.is_nil(logic.title_from_tags({}))
    assert.is_nil(logic.title_from_tags(nil))
    local last, all = logic.title_from_tags({ "Wikimedia Commons|File|B.jpg", "Wikimedia Commons|File|A.jpg" })
    assert.equal("File:B.jpg", last)
    assert.same({ "File:A.jpg", "File:B.jpg" }, all)
  end)

  it("builds the tag from a title with or without the namespace", function()
    assert.equal("Wikimedia Commons|File|X y.jpg", logic.title_tag("File:X y.jpg"))
    assert.equal("Wikimedia Commons|File|X y.jpg", logic.title_tag("X y.jpg"))
    assert.equal("Wikimedia Commons|File|X.jpg", logic.title_tag("file: X.jpg"))
    assert.is_nil(logic.title_tag(""))
    assert.is_nil(logic.title_tag("File:a|b.jpg"))
  end)

  it("round-trips", function()
    for _, t in ipairs({ "File:Pont Neuf (Paris) 2024-05-01.jpg", "File:Ünïcödé – ok.tif" }) do
      assert.equal(t, (logic.title_from_tags({ logic.title_tag(t) })))
    end
  end)

  it("leaves our own and darktable's tags out of the metadata", function()
    assert.same({ "Category|Bridges", "a" }, { table.unpack(logic.user_tags({ "a", "darktable|exported",
      "Wikimedia Commons|uploaded", "Category|Bridges", "" })) })
  end)
end)

describe("categories", function()
  it("splits, trims, strips the namespace and dedupes", function()
    assert.same({ "Bridges in Paris", "Pont Neuf", "Seine" },
      { table.unpack(logic.parse_categories(" Category:Bridges_in_Paris ; [[Category:Pont Neuf]]\nSeine;;Seine ")) })
    assert.same({}, { table.unpack(logic.parse_categories("")) })
    assert.same({ "Rivers, lakes" }, { table.unpack(logic.parse_categories("Rivers, lakes")) })
  end)
end)

describe("quoting", function()
  local function roundtrip(s)
    local p = io.popen("printf '%s' " .. logic.shell_quote(s))
    local out = p:read("a")
    p:close()
    return out
  end

  it("survives the real shell", function()
    for _, s in ipairs({ "plain", "with space", "it's", "a'b'c", "$HOME `x` $(x) \\ \" ; | & > <", "Île ünï", "" }) do
      assert.equal(s, roundtrip(s))
    end
  end)

  it("quotes for cmd.exe and refuses what it cannot quote", function()
    assert.equal('"C:\\Program Files\\x.exe"', logic.shell_quote("C:\\Program Files\\x.exe", true))
    assert.has_error(function() logic.shell_quote('a"b', true) end)
  end)

  it("quotes file names for curl -F", function()
    assert.equal('file=@"/tmp/a;b,c.jpg"', logic.curl_file_field("file", "/tmp/a;b,c.jpg"))
    assert.equal('file=@"/tmp/q\\"\\\\.jpg"', logic.curl_file_field("file", '/tmp/q"\\.jpg'))
    assert.equal('meta=@"/tmp/m";type=application/json', logic.curl_file_field("meta", "/tmp/m", "application/json"))
  end)
end)

describe("reading the helper's answers", function()
  it("posts again only when the first post certainly never reached the helper", function()
    local refused = logic.interpret_upload(7, "000", "", "curl: (7) Failed to connect to 127.0.0.1")
    assert.is_true(logic.safe_to_post_again(refused))
    assert.is_true(logic.safe_to_post_again(logic.interpret_upload(0, "401",
      '{"error":{"code":"unauthorized","message":"x"}}', "")))
    for _, stderr in ipairs({ "curl: (28) Operation timed out", "curl: (52) Empty reply from server",
                              "curl: (56) Recv failure: Connection reset by peer" }) do
      local r = logic.interpret_upload(28, "000", "", stderr)
      assert.equal("unreachable", r.kind)
      assert.is_false(logic.safe_to_post_again(r))  -- the helper may have queued it already
    end
    assert.is_false(logic.safe_to_post_again(logic.interpret_upload(0, "400",
      '{"error":{"code":"no-license","message":"x"}}', "")))
  end)

  it("accepts 201 with a job id", function()
    local r = logic.interpret_upload(0, "201", '{"id":"j1","batch":"b","status":"queued"}', "")
    assert.is_true(r.ok)
    assert.equal("j1", r.id)
    assert.equal("7", logic.interpret_upload(0, "201", '{"id":7}', "").id)
  end)

  it("treats a 201 without id or with garbage as a failure", function()
    local r = logic.interpret_upload(0, "201", '{"status":"queued"}', "")
    assert.is_false(r.ok)
    assert.equal("protocol", r.kind)
    r = logic.interpret_upload(0, "201", "<html>", "")
    assert.is_false(r.ok)
    assert.equal("protocol", r.kind)
  end)

  it("passes on the helper's own words when it refuses", function()
    local r = logic.interpret_upload(0, "400",
      '{"error":{"code":"no-license","message":"No license: choose one in the export module."}}', "")
    assert.is_false(r.ok)
    assert.equal("refused", r.kind)
    assert.equal("no-license", r.code)
    assert.equal("No license: choose one in the export module.", r.reason)
    r = logic.interpret(0, "500", "Internal Server Error", "", 200)
    assert.equal("server", r.kind)
    assert.equal("the helper answered HTTP 500: Internal Server Error", r.reason)
    r = logic.interpret(0, "502", "<html>bad</html>", "", 200)
    assert.equal("the helper answered HTTP 502", r.reason)
  end)

  it("knows a wrong local key", function()
    local r = logic.interpret(0, "401", '{"error":{"code":"unauthorized","message":"bad key"}}', "", 200)
    assert.equal("auth", r.kind)
    assert.equal("auth", logic.interpret(0, "403", "", "", 200).kind)
  end)

  it("explains curl failures, with any exit status encoding", function()
    local err = "curl: (7) Failed to connect to 127.0.0.1 port 8471 after 0 ms: Couldn't connect to server\n"
    for _, rc in ipairs({ 7, 7 * 256, 1 }) do
      local r = logic.interpret(rc, "000", "", err, 200)
      assert.is_false(r.ok)
      assert.equal("unreachable", r.kind)
      assert.equal(7, r.curl)
      assert.matches("could not connect to the helper", r.reason, 1, true)
      assert.matches("Failed to connect", r.reason, 1, true)
    end
    local r = logic.interpret(28 * 256, "000", "", "curl: (28) Operation timed out after 3001 milliseconds\n", 200)
    assert.matches("did not answer in time", r.reason, 1, true)
    r = logic.interpret(256, nil, nil, nil, 200)
    assert.equal("curl failed", r.reason)
  end)

  it("never takes exit status 0 for failure nor non-zero for success", function()
    assert.is_true(logic.interpret(0, "200", "{}", "", 200).ok)
    -- the answer counts when curl got one, whatever curl's exit status says
    assert.is_true(logic.interpret(0, "200", '{"jobs":[]}', "", 200).ok)
    assert.is_false(logic.interpret(256, "", "", "curl: (52) Empty reply from server", 200).ok)
  end)
end)

describe("progress", function()
  it("counts final jobs and bytes sent", function()
    assert.equal(1, logic.progress({}, 0))
    assert.equal(0.5, logic.progress({ { status = "uploaded" }, { status = "queued" } }, 2))
    assert.near(0.5 + 0.45 / 2, logic.progress({ { status = "failed" },
      { status = "uploading", progress = { done = 50, total = 100 } } }, 2), 1e-9)
    assert.equal(0.25, logic.progress({ { status = "uploaded" } }, 4))
  end)

  it("knows when every job of ours is final", function()
    assert.is_true(logic.all_final({ { id = "a", status = "uploaded" }, { id = "b", status = "failed" } }, { "a", "b" }))
    assert.is_false(logic.all_final({ { id = "a", status = "uploaded" } }, { "a", "b" }))
    assert.is_false(logic.all_final({ { id = "a", status = "uploading" } }, { "a" }))
    assert.is_true(logic.all_final({}, {}))
  end)
end)

describe("summary", function()
  local function job(id, status, title, message)
    return { id = id, status = status, title = title, error = message and { code = "x", message = message } or nil }
  end

  it("says what happened to each photo, in darktable's words", function()
    local jobs = {}
    for i = 1, 7 do jobs[i] = job("u" .. i, "uploaded", "File:U" .. i .. ".jpg") end
    jobs[8] = job("d", "duplicate", "File:Old.jpg")
    jobs[9] = job("n", "needs-attention", nil, "No license chosen")
    local s = logic.summarize({ jobs = jobs, files = { n = "x.jpg" } })
    assert.equal("Wikimedia Commons: 7 uploaded, 1 already on Commons as File:Old.jpg, "
      .. "1 needs attention: x.jpg: No license chosen — details: commons-helper open", s)
  end)

  it("counts new versions, unchanged files and failures before the helper", function()
    local s = logic.summarize({
      jobs = { job("a", "new-version", "File:A.jpg"), job("b", "unchanged", "File:B.jpg") },
      failures = { { file = "c.jpg", reason = "could not connect to the helper" },
        { file = "d.jpg", reason = "could not connect to the helper" } },
    })
    assert.equal("Wikimedia Commons: 1 uploaded as a new version, 1 unchanged on Commons (File:B.jpg), "
      .. "2 failed: c.jpg and 1 more: could not connect to the helper — details: commons-helper open", s)
  end)

  it("says uploads go on in the helper when the wait ends", function()
    local s = logic.summarize({ jobs = { job("a", "uploaded", "File:A.jpg"), job("b", "uploading") }, timed_out = true })
    assert.equal("Wikimedia Commons: 1 uploaded, 1 still uploading in the helper after the wait here ended; "
      .. "watch them with commons-helper open", s)
  end)

  it("says so when the helper is gone, and that the photos are kept", function()
    local s = logic.summarize({ jobs = { job("a", "queued"), job("b", "uploading") },
      helper_lost = "could not connect to the helper" })
    assert.matches("2 not finished because the helper stopped answering: could not connect to the helper;", s, 1, true)
    assert.matches("kept in its queue", s, 1, true)
  end)

  it("never claims success for nothing", function()
    assert.equal("Wikimedia Commons: nothing was exported", logic.summarize({}))
    local s = logic.summarize({ failures = { { file = "a.jpg", reason = "r" } } })
    assert.not_matches("uploaded", s, 1, true)
  end)

  it("limits long lists", function()
    local jobs = {}
    for i = 1, 5 do jobs[i] = job("d" .. i, "duplicate", "File:D" .. i .. ".jpg") end
    for i = 1, 5 do jobs[#jobs + 1] = job("f" .. i, "failed", nil, "reason " .. i) end
    local s = logic.summarize({ jobs = jobs })
    assert.matches("5 already on Commons as File:D1.jpg, File:D2.jpg, … (3 more)", s, 1, true)
    assert.matches("… (2 more reasons)", s, 1, true)
  end)
end)

describe("small helpers", function()
  it("compares API versions", function()
    assert.is_true(logic.version_at_least("9.0.0", "9.0.0"))
    assert.is_true(logic.version_at_least("9.3.2", "9.0.0"))
    assert.is_true(logic.version_at_least("10.0", "9.0.0"))
    assert.is_false(logic.version_at_least("8.0.0", "9.0.0"))
  end)

  it("derives the description language from the locale", function()
    assert.equal("de", logic.language_from_locale("de_DE.UTF-8"))
    assert.equal("fr", logic.language_from_locale("fr"))
    assert.equal("en", logic.language_from_locale("C.UTF-8"))
    assert.equal("en", logic.language_from_locale(nil))
  end)

  it("makes batch ids and reads extensions", function()
    assert.equal("darktable-1700000000-00abcd", logic.batch_id(1700000000, 0xabcd))
    assert.equal("jpg", logic.extension("/t/a.b/x.JPG"))
    assert.equal("", logic.extension("/t/a.b/x"))
    assert.equal("x.jpg", logic.basename("/t/a/x.jpg"))
  end)
end)

describe("translations", function()
  after_each(function() logic.set_translator(function(s) return s end) end)

  it("sends every text of the summary through darktable's gettext wrapper", function()
    local seen = {}
    logic.set_translator(function(s) seen[#seen + 1] = s return s end)
    logic.summarize({ jobs = { { id = "a", status = "uploaded", title = "File:A.jpg" } },
      failures = { { file = "b.jpg", reason = "r" } } })
    local all = table.concat(seen, "\n")
    assert.matches("%d uploaded", all, 1, true)
    assert.matches("%d failed: %s", all, 1, true)
    assert.matches("Wikimedia Commons: ", all, 1, true)
  end)
end)
