--[[
    This file is part of commons-helper's darktable plugin.

    commons-helper is free software: you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    commons-helper is distributed in the hope that it will be useful,
    but WITHOUT ANY WARRANTY; without even the implied warranty of
    MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
    GNU General Public License for more details.

    You should have received a copy of the GNU General Public License
    along with commons-helper.  If not, see <http://www.gnu.org/licenses/>.
]]
--[[
    commons_export/json.lua - a small JSON encoder/decoder in pure Lua (5.3/5.4)

    darktable's Lua has no JSON library. This one covers what the plugin
    exchanges with the helper:
      encode(value)  tables with json.array(t) or a non-empty sequence become
                     arrays, other tables objects (keys sorted, so the output
                     is stable); json.null encodes null; numbers never depend
                     on the C locale; strings are checked to be UTF-8 (bad
                     bytes become U+FFFD so the helper never gets invalid JSON).
      decode(text)   returns value, or nil and an error message; null decodes
                     to nil inside objects and arrays (arrays keep their length
                     in field n) and to json.null at the top level.
]]

local json = {}

json.null = setmetatable({}, { __tostring = function() return "null" end })

local array_mt = { __json_array = true }

-- mark t (possibly empty) as a JSON array
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

-- ---------------------------------------------------------------- encoding

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

-- replace bytes that are not valid UTF-8 with U+FFFD
local function valid_utf8(s)
  if utf8.len(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local len = utf8.len(s, i, i)
    local c = s:byte(i)
    local width = (c < 0x80 and 1) or (c >= 0xF0 and 4) or (c >= 0xE0 and 3) or (c >= 0xC2 and 2) or 0
    local ok = width > 0 and i + width - 1 <= n and len ~= nil
    if ok then
      local piece = s:sub(i, i + width - 1)
      ok = utf8.len(piece) == 1
      if ok then
        out[#out + 1] = piece
        i = i + width
      end
    end
    if not ok then
      out[#out + 1] = "\239\191\189"
      i = i + 1
    end
  end
  return table.concat(out)
end

local function encode_string(s)
  s = valid_utf8(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Locale-independent number text. string.format("%f") and tostring() go
-- through the C library, which writes "," as the decimal separator under
-- some LC_NUMERIC settings; integer formatting (%d) never does.
function json.number(x, decimals)
  if x ~= x or x == math.huge or x == -math.huge then return nil end
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x == math.floor(x) and math.abs(x) < 2^53 then
    return string.format("%d", math.tointeger(x))
  end
  decimals = decimals or 8
  local scale = 10 ^ decimals
  local ax = math.abs(x)
  if ax * scale >= 2^62 then
    -- too large for the integer path: C formatting, separator normalised
    local s = string.format("%.17g", x):gsub("[^%deE%+%-]", ".")
    return s
  end
  local n = math.floor(ax * scale + 0.5)
  local int, frac = n // math.tointeger(scale), n % math.tointeger(scale)
  local s = string.format("%d.%0" .. decimals .. "d", int, frac):gsub("0+$", ""):gsub("%.$", "")
  if x < 0 and s ~= "0" then s = "-" .. s end
  return s
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt and mt.__json_array then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local encode_value

local function encode_table(t, seen)
  if seen[t] then error("json.encode: cycle in table", 0) end
  seen[t] = true
  local parts = {}
  if is_array(t) then
    for i = 1, #t do parts[i] = encode_value(t[i], seen) end
    seen[t] = nil
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("json.encode: object key is not a string: " .. tostring(k), 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do
    parts[i] = encode_string(k) .. ":" .. encode_value(t[k], seen)
  end
  seen[t] = nil
  return "{" .. table.concat(parts, ",") .. "}"
end

encode_value = function(v, seen)
  local tv = type(v)
  if v == nil or v == json.null then return "null"
  elseif tv == "boolean" then return v and "true" or "false"
  elseif tv == "number" then return json.number(v) or "null"
  elseif tv == "string" then return encode_string(v)
  elseif tv == "table" then return encode_table(v, seen)
  end
  error("json.encode: cannot encode a " .. tv, 0)
end

function json.encode(v)
  return encode_value(v, {})
end

-- ---------------------------------------------------------------- decoding

local function utf8_char(cp)
  return utf8.char(cp)
end

local Decoder = {}
Decoder.__index = Decoder

function Decoder:fail(msg)
  error({ json_error = string.format("%s at byte %d", msg, self.pos) }, 0)
end

function Decoder:skip()
  self.pos = self.text:find("[^ \t\r\n]", self.pos) or (#self.text + 1)
end

function Decoder:peek()
  return self.text:sub(self.pos, self.pos)
end

function Decoder:string()
  local text, pos = self.text, self.pos + 1
  local out = {}
  while true do
    local s, e = text:find('["\\%c]', pos)
    if not s then self.pos = #text + 1; self:fail("unterminated string") end
    out[#out + 1] = text:sub(pos, s - 1)
    local c = text:sub(s, s)
    if c == '"' then
      self.pos = s + 1
      return table.concat(out)
    elseif c == "\\" then
      local esc = text:sub(s + 1, s + 1)
      local simple = ({ ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' })[esc]
      if simple then
        out[#out + 1] = simple
        pos = s + 2
      elseif esc == "u" then
        local hex = text:match("^%x%x%x%x", s + 2)
        if not hex then self.pos = s; self:fail("bad \\u escape") end
        local cp = tonumber(hex, 16)
        pos = s + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local low = text:match("^\\u(%x%x%x%x)", pos)
          local lcp = low and tonumber(low, 16)
          if lcp and lcp >= 0xDC00 and lcp <= 0xDFFF then
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lcp - 0xDC00)
            pos = pos + 6
          else
            cp = 0xFFFD
          end
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          cp = 0xFFFD
        end
        out[#out + 1] = utf8_char(cp)
      else
        self.pos = s; self:fail("bad escape")
      end
    else
      self.pos = s; self:fail("control character in string")
    end
  end
end

function Decoder:number()
  local s, e = self.text:find("^-?%d+%.?%d*[eE]?[-+]?%d*", self.pos)
  local lit = s and self.text:sub(s, e)
  if not lit or not lit:match("^-?%d+%.?%d*$") and not lit:match("^-?%d+%.?%d*[eE][-+]?%d+$")
      or lit:match("^-?0%d") or lit:match("%.$") or lit:match("%.[eE]") then
    self:fail("bad number")
  end
  self.pos = e + 1
  -- Lua 5.4's tonumber retries with the locale's decimal point, so "1.5" reads in every locale
  local v = tonumber(lit)
  if v == nil then self:fail("bad number") end
  if not lit:find("[.eE]") then v = math.tointeger(v) or v end
  return v
end

function Decoder:value(depth)
  if depth > 200 then self:fail("nested too deeply") end
  self:skip()
  local c = self:peek()
  if c == "{" then
    self.pos = self.pos + 1
    local obj = {}
    self:skip()
    if self:peek() == "}" then self.pos = self.pos + 1; return obj end
    while true do
      self:skip()
      if self:peek() ~= '"' then self:fail("expected a string key") end
      local k = self:string()
      self:skip()
      if self:peek() ~= ":" then self:fail("expected ':'") end
      self.pos = self.pos + 1
      local v = self:value(depth + 1)
      if v ~= json.null then obj[k] = v end
      self:skip()
      c = self:peek()
      self.pos = self.pos + 1
      if c == "}" then return obj end
      if c ~= "," then self.pos = self.pos - 1; self:fail("expected ',' or '}'") end
    end
  elseif c == "[" then
    self.pos = self.pos + 1
    local arr, n = json.array({}), 0
    self:skip()
    if self:peek() == "]" then self.pos = self.pos + 1; arr.n = 0; return arr end
    while true do
      n = n + 1
      local v = self:value(depth + 1)
      if v ~= json.null then arr[n] = v end
      self:skip()
      c = self:peek()
      self.pos = self.pos + 1
      if c == "]" then arr.n = n; return arr end
      if c ~= "," then self.pos = self.pos - 1; self:fail("expected ',' or ']'") end
    end
  elseif c == '"' then
    return self:string()
  elseif c == "-" or c:match("%d") then
    return self:number()
  else
    for lit, v in pairs({ ["true"] = true, ["false"] = false, ["null"] = json.null }) do
      if self.text:sub(self.pos, self.pos + #lit - 1) == lit then
        self.pos = self.pos + #lit
        return v
      end
    end
    self:fail(c == "" and "unexpected end of input" or "unexpected character")
  end
end

function json.decode(text)
  if type(text) ~= "string" then return nil, "json.decode: expected a string" end
  local d = setmetatable({ text = text, pos = 1 }, Decoder)
  local ok, v = pcall(function()
    local v = d:value(0)
    d:skip()
    if d.pos <= #text then d:fail("trailing characters") end
    return v
  end)
  if ok then return v end
  if type(v) == "table" and v.json_error then return nil, "invalid JSON: " .. v.json_error end
  return nil, "invalid JSON: " .. tostring(v)
end

return json
