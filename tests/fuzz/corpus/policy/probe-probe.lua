-- The tests' way in: run a snippet of Lua in the policy environment.
function probe(code, ...)
  local f, err = load(code, "=probe")
  if not f then error(err, 0) end
  return f(...)
end

-- Define (or, with code nil, remove) the hook name as a snippet that
-- receives the hook's arguments as "...".
function set_hook(name, code)
  if code == nil then
    _G[name] = nil
    return
  end
  local f = assert(load(code, "=" .. name))
  _G[name] = function(...) return f(...) end
end
